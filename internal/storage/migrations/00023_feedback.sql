-- +goose Up
-- Feedback about the site, given by anyone from /feedback (the feedback
-- block, internal/feedback). Nothing identifies the person unless they
-- leave an email address for a reply; platform administrators read it,
-- audited. Kept neutral ("feedback") so that satisfaction surveys can join
-- it later.
CREATE TABLE feedback (
    id          TEXT PRIMARY KEY,
    created_at  {{.Time}} NOT NULL,
    lang        TEXT NOT NULL,
    -- The path of the page the person came from (same site only, no query).
    page        TEXT NOT NULL DEFAULT '',
    doing       TEXT NOT NULL DEFAULT '',
    comment     TEXT NOT NULL,
    -- Optional, for a reply.
    email       TEXT NOT NULL DEFAULT ''
);
-- The administrators' list reads newest first, a page at a time.
CREATE INDEX feedback_newest ON feedback (created_at, id);

-- How much feedback each client address has sent in the current window:
-- the form is public, so it is rate-limited like sign-up and sign-in.
CREATE TABLE feedback_throttles (
    key          TEXT PRIMARY KEY,
    window_start {{.Time}} NOT NULL,
    sent         INTEGER NOT NULL
);
-- Windows that have passed are deleted as new feedback arrives.
CREATE INDEX feedback_throttles_window ON feedback_throttles (window_start);
