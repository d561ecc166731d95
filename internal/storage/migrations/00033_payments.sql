-- +goose Up
-- Online payments (issue 12, internal/payment): one row per payment an
-- agency asked for, in GOV.UK Pay's states; its history; and the agency's
-- double-entry ledger. Amounts are integer minor units (cents).

-- id is the payment_id of the GOV.UK Pay-compatible API. status follows
-- GOV.UK Pay (created, started, submitted, capturable, success, failed,
-- cancelled, error); code is the failure code of failed/cancelled/error.
-- live: a live-mode payment (false: test mode, the sandbox). expires_at:
-- an unfinished payment fails with P0020 after it (90 minutes).
CREATE TABLE payments (
    id               TEXT PRIMARY KEY,
    agency_id        TEXT NOT NULL,
    live             BOOLEAN NOT NULL,
    amount           BIGINT NOT NULL CHECK (amount >= 1 AND amount <= 10000000),
    currency         TEXT NOT NULL,
    reference        TEXT NOT NULL,
    description      TEXT NOT NULL,
    return_url       TEXT NOT NULL,
    language         TEXT NOT NULL,
    email            TEXT NOT NULL DEFAULT '',
    metadata         {{.JSON}},
    delayed_capture  BOOLEAN NOT NULL DEFAULT FALSE,
    provider         TEXT NOT NULL,
    provider_ref     TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    code             TEXT NOT NULL DEFAULT '',
    created_at       {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL,
    expires_at       {{.Time}} NOT NULL
);
CREATE INDEX payments_agency ON payments (agency_id, created_at);
CREATE INDEX payments_reference ON payments (agency_id, reference);
-- The expiry sweep reads unfinished payments by when they expire.
CREATE INDEX payments_unfinished ON payments (expires_at) WHERE status IN ('created', 'started', 'submitted');

-- Every state a payment has been in, in order (GET /v1/payments/{id}/events).
CREATE TABLE payment_events (
    id          {{.Serial}},
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    status      TEXT NOT NULL,
    code        TEXT NOT NULL DEFAULT '',
    at          {{.Time}} NOT NULL
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, id);

-- The ledger: each posting (txn) is a set of lines whose amounts sum to
-- zero (debits positive, credits negative), all in one agency and one
-- currency. kind: charge (a payment succeeded), refund, payout.
-- payment_id ties a posting to its payment (empty for a payout).
CREATE TABLE ledger_entries (
    id          {{.Serial}},
    txn         TEXT NOT NULL,
    agency_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payment_id  TEXT NOT NULL DEFAULT '',
    account     TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    at          {{.Time}} NOT NULL
);
CREATE INDEX ledger_entries_txn ON ledger_entries (txn);
CREATE INDEX ledger_entries_payment ON ledger_entries (payment_id, kind);
CREATE INDEX ledger_entries_agency ON ledger_entries (agency_id, account);
