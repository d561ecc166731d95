-- +goose Up
-- Satisfaction surveys (the satisfaction block, internal/satisfaction):
-- one row per answer to the one-question survey offered after every end
-- of a transaction (submitted, decided, paid, reported, not eligible,
-- withdrawn) or from a service's beta banner (end_point ''). Nothing
-- identifies the person: no account, no address; the comment is stored
-- already redacted (emails, phone numbers, long numbers, street
-- addresses), and the agency's staff read it, audited.
CREATE TABLE satisfaction_responses (
    id             TEXT PRIMARY KEY,
    -- The survey form's one-time id: the same form sent twice (a double
    -- click) is stored, and counted, once.
    token          TEXT NOT NULL,
    created_at     {{.Time}} NOT NULL,
    service_id     TEXT NOT NULL,
    agency_id      TEXT NOT NULL,
    -- submitted, decided, paid, reported, ineligible, withdrawn; '' from
    -- the beta banner (not the end of a transaction).
    end_point      TEXT NOT NULL,
    lang           TEXT NOT NULL,
    -- 5 very satisfied … 1 very dissatisfied.
    score          INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    -- OMB Circular A-11 §280 statements, 5 strongly agree … 1 strongly
    -- disagree; NULL when not answered.
    trust          INTEGER CHECK (trust BETWEEN 1 AND 5),
    effectiveness  INTEGER CHECK (effectiveness BETWEEN 1 AND 5),
    ease           INTEGER CHECK (ease BETWEEN 1 AND 5),
    efficiency     INTEGER CHECK (efficiency BETWEEN 1 AND 5),
    equity         INTEGER CHECK (equity BETWEEN 1 AND 5),
    employees      INTEGER CHECK (employees BETWEEN 1 AND 5),
    comment        TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX satisfaction_responses_token ON satisfaction_responses (token);
-- The console lists a service's comments newest first, a page at a time:
-- only the answers with a comment are in this index.
CREATE INDEX satisfaction_comments ON satisfaction_responses (service_id, created_at, id) WHERE comment <> '';

-- How many answers each client address has sent in the current window:
-- the survey is public, so it is rate-limited like /feedback.
CREATE TABLE satisfaction_throttles (
    key          TEXT PRIMARY KEY,
    window_start {{.Time}} NOT NULL,
    sent         INTEGER NOT NULL
);
CREATE INDEX satisfaction_throttles_window ON satisfaction_throttles (window_start);
