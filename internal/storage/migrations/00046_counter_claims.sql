-- +goose Up
-- A fee paid at the counter holds its item as a checkout does (issue 12,
-- ADR 50): checkout_claims gains counter claims, rows whose checkout_id
-- is '' and whose counter names who recorded the payment. One row per
-- (kind, source) is then the single arbiter between the counter and the
-- online checkout: of a counter payment and a checkout racing for one
-- fee, the second insert finds the first's row (waiting for its
-- transaction on PostgreSQL), so the fee cannot be taken twice. The
-- table is made again because a counter claim has no checkout to
-- reference (SQLite cannot drop a foreign key in place); the rows are
-- kept as they were.
CREATE TABLE checkout_claims_v2 (
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    checkout_id  TEXT NOT NULL DEFAULT '',
    counter      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, source)
);
INSERT INTO checkout_claims_v2 (kind, source, checkout_id) SELECT kind, source, checkout_id FROM checkout_claims;
DROP TABLE checkout_claims;
ALTER TABLE checkout_claims_v2 RENAME TO checkout_claims;
CREATE INDEX checkout_claims_checkout ON checkout_claims (checkout_id);
