-- +goose Up
-- Reminders: obligations a citizen must meet by a date, the reminder
-- occurrences still to send, what was sent, and calendar feed tokens.
CREATE TABLE obligations (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    agency_id   TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    -- The caller's key (case:ID/reminder:renew, document:ID, draft:ID):
    -- Set is idempotent per account and source.
    source      TEXT NOT NULL,
    title_en    TEXT NOT NULL,
    title_es    TEXT NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    due_on      TEXT NOT NULL, -- a calendar date, YYYY-MM-DD
    schedule    TEXT NOT NULL, -- offsets in minutes from the due date's send time, JSON array
    status      TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    created_at  {{.Time}} NOT NULL,
    updated_at  {{.Time}} NOT NULL,
    closed_at   {{.Time}},
    UNIQUE (account_id, source)
);
CREATE INDEX obligations_account ON obligations (account_id, status, due_on);

-- One row per reminder still to send. The scheduler reads only rows whose
-- send_at has come (the index) and deletes what it claims, so its cost
-- follows what is due, not what is stored.
CREATE TABLE reminder_occurrences (
    obligation_id  TEXT NOT NULL REFERENCES obligations(id),
    offset_minutes INTEGER NOT NULL,
    send_at        {{.Time}} NOT NULL,
    PRIMARY KEY (obligation_id, offset_minutes)
);
CREATE INDEX reminder_occurrences_due ON reminder_occurrences (send_at, obligation_id, offset_minutes);

-- What the send worker did with each claimed reminder; the key makes a
-- retried job send nothing twice.
CREATE TABLE reminder_sends (
    obligation_id   TEXT NOT NULL REFERENCES obligations(id),
    due_on          TEXT NOT NULL,
    offset_minutes  INTEGER NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('pending', 'sent', 'skipped')),
    notification_id TEXT NOT NULL DEFAULT '',
    at              {{.Time}} NOT NULL,
    PRIMARY KEY (obligation_id, due_on, offset_minutes)
);

-- A citizen's secret calendar feed: only the SHA-256 of the token is kept.
CREATE TABLE calendar_feeds (
    account_id  TEXT PRIMARY KEY,
    token_hash  {{.Bytes}} NOT NULL UNIQUE,
    created_at  {{.Time}} NOT NULL
);
