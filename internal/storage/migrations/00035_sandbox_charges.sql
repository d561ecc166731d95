-- +goose Up
-- The citizen's checkout with the built-in sandbox provider (issue 12,
-- internal/payment).
--
-- sandbox_charges is the sandbox provider's own record of a charge, kept
-- apart from checkouts on purpose: the return page, the settle sweep and
-- the tests ask the provider for the truth (Provider.Status) and must get
-- an answer that Portico's own view of the checkout did not write, as
-- with Stripe. One charge per checkout (Start is keyed by the checkout
-- id). status is the GOV.UK Pay status the payer's card led to: started
-- until they finish, submitted while a test authentication (3-D Secure)
-- step waits, then capturable, success, failed, cancelled or error.
-- challenge: the card asked for that step. refunded: the sum of the
-- charge's refunds (never above amount). No card number is kept: only
-- the brand and the last four digits, as a real provider reports them.
CREATE TABLE sandbox_charges (
    ref              TEXT PRIMARY KEY,
    checkout_id      TEXT NOT NULL UNIQUE,
    amount           BIGINT NOT NULL CHECK (amount >= 1),
    currency         TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    language         TEXT NOT NULL,
    return_url       TEXT NOT NULL,
    delayed_capture  BOOLEAN NOT NULL DEFAULT FALSE,
    status           TEXT NOT NULL,
    code             TEXT NOT NULL DEFAULT '',
    challenge        BOOLEAN NOT NULL DEFAULT FALSE,
    card_brand       TEXT NOT NULL DEFAULT '',
    last_digits      TEXT NOT NULL DEFAULT '',
    refunded         BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    created_at       {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL
);

-- A refund the sandbox made, by its key (the refund's id in Portico), so a
-- retried Refund is one refund.
CREATE TABLE sandbox_refunds (
    refund_key  TEXT PRIMARY KEY,
    ref         TEXT NOT NULL REFERENCES sandbox_charges (ref),
    amount      BIGINT NOT NULL CHECK (amount >= 1),
    created_at  {{.Time}} NOT NULL
);

-- What a person's unfinished or successful checkout is paying: at most
-- one row per (kind, source), so the same fee or obligation cannot be in
-- two checkouts at once, whatever the engine and however many POSTs race
-- (the second insert finds the first's row, waiting for its transaction
-- on PostgreSQL). OpenCheckout inserts them in its transaction; a
-- checkout that ends without success releases them in the transaction
-- that settles it; a success keeps them (the item is paid).
CREATE TABLE checkout_claims (
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    checkout_id  TEXT NOT NULL REFERENCES checkouts (id),
    PRIMARY KEY (kind, source)
);
CREATE INDEX checkout_claims_checkout ON checkout_claims (checkout_id);

-- The events consumers that mark paid items read a payment's items.
CREATE INDEX checkout_items_payment ON checkout_items (payment_id);

-- +goose Down
DROP INDEX checkout_items_payment;
DROP TABLE checkout_claims;
DROP TABLE sandbox_refunds;
DROP TABLE sandbox_charges;
