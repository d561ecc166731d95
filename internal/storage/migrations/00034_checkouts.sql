-- +goose Up
-- Checkouts and refunds (issue 12, internal/payment).
--
-- A checkout is one charge at the payment provider: what a person pays in
-- one go. It holds one payment per agency it pays (payments.checkout_id),
-- so a renewal fee for the DMV and a tax instalment for the county are one
-- card entry and two payments, each posted to its own agency's ledger. An
-- agency's API payment (/v1/payments) is a checkout of its own with one
-- payment. status mirrors its payments' GOV.UK Pay status (they move
-- together, in one transaction); provider_ref is the provider's id of the
-- charge (unique per provider once known); card_brand and last_digits are
-- what the provider reported about the card, for the receipt.
-- account_id is the person paying ('' for a payment an agency created
-- through the API without a signed-in person).
CREATE TABLE checkouts (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL DEFAULT '',
    live          BOOLEAN NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount >= 1),
    currency      TEXT NOT NULL,
    language      TEXT NOT NULL,
    provider      TEXT NOT NULL,
    provider_ref  TEXT NOT NULL DEFAULT '',
    next_url      TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    code          TEXT NOT NULL DEFAULT '',
    card_brand    TEXT NOT NULL DEFAULT '',
    last_digits   TEXT NOT NULL DEFAULT '',
    created_at    {{.Time}} NOT NULL,
    updated_at    {{.Time}} NOT NULL,
    expires_at    {{.Time}} NOT NULL
);
CREATE INDEX checkouts_account ON checkouts (account_id, created_at);
-- The settle sweep reads unfinished checkouts by when they expire.
CREATE INDEX checkouts_unfinished ON checkouts (expires_at) WHERE status IN ('created', 'started', 'submitted');
CREATE UNIQUE INDEX checkouts_provider_ref ON checkouts (provider, provider_ref) WHERE provider_ref <> '';

ALTER TABLE payments ADD COLUMN checkout_id TEXT NOT NULL DEFAULT '';
CREATE INDEX payments_checkout ON payments (checkout_id);

-- What each payment of a checkout pays for. kind: case_payment (a fee a
-- case asks for: case_payments.id in source), obligation (an amount owed:
-- obligations.id), api (an agency's own payment; source empty). A settled
-- success marks each item's source paid (idempotently, by the event).
CREATE TABLE checkout_items (
    id              {{.Serial}},
    checkout_id     TEXT NOT NULL REFERENCES checkouts (id),
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    kind            TEXT NOT NULL CHECK (kind IN ('case_payment', 'obligation', 'api')),
    source          TEXT NOT NULL DEFAULT '',
    agency_id       TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount >= 1),
    currency        TEXT NOT NULL,
    description_en  TEXT NOT NULL,
    description_es  TEXT NOT NULL
);
CREATE INDEX checkout_items_checkout ON checkout_items (checkout_id, id);
CREATE INDEX checkout_items_source ON checkout_items (kind, source);

-- A refund of (part of) a successful payment. status: submitted (asked of
-- the provider), success, error (the provider refused; nothing refunded).
-- Only a success posts to the ledger. The sum of a payment's refunds that
-- are not in error never exceeds its amount.
CREATE TABLE payment_refunds (
    id            TEXT PRIMARY KEY,
    payment_id    TEXT NOT NULL REFERENCES payments (id),
    agency_id     TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount >= 1),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('submitted', 'success', 'error')),
    reason        TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL,
    provider_ref  TEXT NOT NULL DEFAULT '',
    created_at    {{.Time}} NOT NULL,
    updated_at    {{.Time}} NOT NULL
);
CREATE INDEX payment_refunds_payment ON payment_refunds (payment_id, created_at);
CREATE INDEX payment_refunds_agency ON payment_refunds (agency_id, created_at);
CREATE INDEX payment_refunds_submitted ON payment_refunds (updated_at) WHERE status = 'submitted';
