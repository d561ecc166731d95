-- +goose Up
-- Receipts sent for paid checkouts (issue 12, internal/payment/receipt).
--
-- A checkout that pays several agencies succeeds as one payment per
-- agency, and each emits gov.portico.payment.succeeded; the person gets
-- one receipt for the checkout all the same. The receipt consumer inserts
-- this row in the transaction that queues the email and the inbox message,
-- and sends nothing when the row is already there, so a replayed or
-- repeated event never sends a second receipt. notification_id is the
-- first notification queued (the email, or the inbox message when the
-- person has no email channel).
CREATE TABLE payment_receipts (
    checkout_id      TEXT PRIMARY KEY REFERENCES checkouts (id),
    account_id       TEXT NOT NULL,
    notification_id  TEXT NOT NULL DEFAULT '',
    sent_at          {{.Time}} NOT NULL
);

