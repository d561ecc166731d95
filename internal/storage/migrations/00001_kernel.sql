-- +goose Up
-- Tenancy: the jurisdiction tree (state > county > city/town) and its agencies.
CREATE TABLE jurisdictions (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES jurisdictions(id),
    kind        TEXT NOT NULL CHECK (kind IN ('state', 'county', 'city', 'town')),
    name        TEXT NOT NULL,
    name_es     TEXT NOT NULL DEFAULT '',
    created_at  {{.Time}} NOT NULL
);
CREATE INDEX jurisdictions_parent ON jurisdictions (parent_id);

CREATE TABLE jurisdiction_zips (
    jurisdiction_id TEXT NOT NULL REFERENCES jurisdictions(id),
    zip             TEXT NOT NULL,
    PRIMARY KEY (jurisdiction_id, zip)
);
CREATE INDEX jurisdiction_zips_zip ON jurisdiction_zips (zip);

CREATE TABLE agencies (
    id              TEXT PRIMARY KEY,
    jurisdiction_id TEXT NOT NULL REFERENCES jurisdictions(id),
    name            TEXT NOT NULL,
    name_es         TEXT NOT NULL DEFAULT '',
    created_at      {{.Time}} NOT NULL
);
CREATE INDEX agencies_jurisdiction ON agencies (jurisdiction_id);

-- Audit: an append-only hash chain. audit_head holds the single row that
-- serialises appends (row lock on PostgreSQL, the one writer on SQLite) and
-- remembers the head, so deleting the newest entries is detected too.
CREATE TABLE audit_entries (
    seq         BIGINT PRIMARY KEY,
    at          {{.Time}} NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    agency_id   TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_entries_subject ON audit_entries (subject, seq);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    at         {{.Time}} NOT NULL,
    key_id     TEXT NOT NULL,
    signature  TEXT NOT NULL
);

-- Events: consumers record what they have handled so redelivery (at least
-- once) has no second effect.
CREATE TABLE event_receipts (
    consumer    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    handled_at  {{.Time}} NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
