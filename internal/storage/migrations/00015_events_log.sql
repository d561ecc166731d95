-- +goose Up
-- Events as a durable, ordered log (ADR 19).
--
-- A producing transaction appends its events with position NULL. The
-- sequencer (one at a time, serialised on event_sequence) later gives every
-- committed, unsequenced event the next position. Positions are therefore
-- assigned only after commit, by a single writer, so a consumer that has
-- read up to position N will never see an event appear at or below N later:
-- on PostgreSQL an identity value is taken before commit and transactions
-- commit out of order, so id is NOT a safe cursor; position is.
CREATE TABLE event_log (
    id               {{.Serial}},
    position         BIGINT UNIQUE,
    event_id         TEXT NOT NULL UNIQUE,
    source           TEXT NOT NULL,
    type             TEXT NOT NULL,
    subject          TEXT NOT NULL DEFAULT '',
    occurred_at      {{.Time}} NOT NULL, -- CloudEvents time
    specversion      TEXT NOT NULL,
    datacontenttype  TEXT NOT NULL DEFAULT '',
    agency_id        TEXT NOT NULL DEFAULT '',
    data             TEXT NOT NULL DEFAULT ''
);
-- The sequencer's work list: only the few rows not yet sequenced.
CREATE INDEX event_log_unsequenced ON event_log (id) WHERE position IS NULL;

-- The last position given out. The one row serialises sequencers (a row
-- lock on PostgreSQL, the one writer on SQLite).
CREATE TABLE event_sequence (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    position  BIGINT NOT NULL
);
INSERT INTO event_sequence (id, position) VALUES (1, 0);

-- Named consumers and their cursors. position is the last event the
-- consumer has handled (0: none). A lease says which process drives the
-- consumer; lease_until and retry_at are Unix milliseconds so both engines
-- compare them as numbers (SQLite keeps times as text).
CREATE TABLE event_consumers (
    name         TEXT PRIMARY KEY,
    position     BIGINT NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    retry_at     BIGINT NOT NULL DEFAULT 0,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  BIGINT NOT NULL DEFAULT 0,
    updated_at   {{.Time}} NOT NULL
);
