-- +goose Up
-- The GOV.UK Pay-compatible API for agency systems and refunds (issue 12,
-- internal/payment and internal/payment/payapi).

-- An agency's API keys for /v1/payments. The key itself ("api_test_…" or
-- "api_live_…" followed by 256 random bits) is shown once, when it is
-- made; only its SHA-256 is stored (secret_hash), as OAuth client secrets
-- are (a random 256-bit value has nothing to guess, so a slow hash would
-- only cap requests per second). hint is the key's first characters, so
-- a person can tell keys apart in a list. live: payments it creates are
-- live (the configured live provider) rather than test (the sandbox).
CREATE TABLE payment_api_keys (
    id           TEXT PRIMARY KEY,
    agency_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    live         BOOLEAN NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   {{.Time}} NOT NULL,
    revoked_at   {{.Time}}
);
CREATE INDEX payment_api_keys_agency ON payment_api_keys (agency_id, created_at);

-- Idempotency-Key records of POST /v1/payments: the first request with a
-- key under an API key creates the payment and records the hash of its
-- body in the same transaction; a repeat within 24 hours with the same
-- body answers with that payment, with a different body 409 P0191. The
-- primary key makes two racing first requests one payment. Rows older
-- than 24 hours are no longer consulted and are deleted by the sweep.
CREATE TABLE payment_idempotency (
    key_id       TEXT NOT NULL REFERENCES payment_api_keys (id),
    idem_key     TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    created_at   {{.Time}} NOT NULL,
    PRIMARY KEY (key_id, idem_key)
);
CREATE INDEX payment_idempotency_created ON payment_idempotency (created_at);

-- A refund posting names its refund, so `ledger check` can prove that
-- every successful refund has exactly one posting of its amount and no
-- other refund has any ('' for charges and payouts).
ALTER TABLE ledger_entries ADD COLUMN refund_id TEXT NOT NULL DEFAULT '';
CREATE INDEX ledger_entries_refund ON ledger_entries (refund_id) WHERE refund_id <> '';

-- Search of an agency's payments by state and by email
-- (GET /v1/payments?state=…&email=…), newest first.
CREATE INDEX payments_agency_status ON payments (agency_id, status, created_at);
CREATE INDEX payments_agency_email ON payments (agency_id, email, created_at);

-- +goose Down
DROP INDEX payments_agency_email;
DROP INDEX payments_agency_status;
DROP INDEX ledger_entries_refund;
ALTER TABLE ledger_entries DROP COLUMN refund_id;
DROP TABLE payment_idempotency;
DROP TABLE payment_api_keys;
