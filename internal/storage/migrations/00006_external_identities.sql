-- +goose Up
-- Sign-in through an external OpenID Provider (for example Login.gov):
-- the provider's subject for a person, linked to their Portico account.
CREATE TABLE external_identities (
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    email       TEXT NOT NULL DEFAULT '',
    created_at  {{.Time}} NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_account ON external_identities (account_id);
