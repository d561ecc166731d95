-- +goose Up
-- Applications and cases. An application is a citizen's answers to one
-- published service version: a draft until submitted, then frozen. Submitting
-- opens a case (same id) that staff work through the service's workflow.
CREATE TABLE applications (
    id               TEXT PRIMARY KEY,
    service_id       TEXT NOT NULL,
    service_version  INTEGER NOT NULL,
    agency_id        TEXT NOT NULL REFERENCES agencies(id),
    account_id       TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'withdrawn', 'expired')),
    answers          {{.JSON}} NOT NULL,
    page             TEXT NOT NULL DEFAULT '',
    reference        TEXT UNIQUE,
    created_at       {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL,
    expires_at       {{.Time}},
    submitted_at     {{.Time}},
    FOREIGN KEY (service_id, service_version) REFERENCES services (id, version)
);
CREATE INDEX applications_account ON applications (account_id, status, updated_at);
CREATE INDEX applications_expiry ON applications (expires_at) WHERE status = 'draft';

-- Human references per agency and year: DMV-2026-000123. The row is the
-- counter; allocating takes its row lock (PostgreSQL) or the single writer
-- (SQLite), so two submissions never share a number.
CREATE TABLE reference_counters (
    agency_id  TEXT NOT NULL REFERENCES agencies(id),
    year       INTEGER NOT NULL,
    last       INTEGER NOT NULL,
    PRIMARY KEY (agency_id, year)
);

CREATE TABLE cases (
    id               TEXT PRIMARY KEY REFERENCES applications(id),
    reference        TEXT NOT NULL UNIQUE,
    agency_id        TEXT NOT NULL REFERENCES agencies(id),
    service_id       TEXT NOT NULL,
    service_version  INTEGER NOT NULL,
    account_id       TEXT NOT NULL,
    state            TEXT NOT NULL,
    state_entered_at {{.Time}} NOT NULL,
    sla_due_at       {{.Time}},
    overdue          BOOLEAN NOT NULL DEFAULT FALSE,
    waiting_on       TEXT NOT NULL DEFAULT 'agency' CHECK (waiting_on IN ('agency', 'citizen', 'nobody')),
    assignee         TEXT,
    opened_at        {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL,
    closed_at        {{.Time}}
);
CREATE INDEX cases_queue ON cases (agency_id, closed_at, state, sla_due_at);
CREATE INDEX cases_account ON cases (account_id, opened_at);
-- The SLA sweep reads only open cases not yet marked overdue, by due time.
CREATE INDEX cases_sla ON cases (sla_due_at) WHERE overdue = FALSE AND closed_at IS NULL;

-- The case timeline: transitions, notes, messages, requests for information
-- and the citizen's replies. Internal notes are never shown to the citizen.
CREATE TABLE case_entries (
    id         {{.Serial}},
    case_id    TEXT NOT NULL REFERENCES cases(id),
    kind       TEXT NOT NULL CHECK (kind IN ('opened', 'transition', 'assign', 'note', 'message', 'request', 'response', 'overdue')),
    actor      TEXT NOT NULL,
    internal   BOOLEAN NOT NULL DEFAULT FALSE,
    body       TEXT NOT NULL DEFAULT '',
    detail     {{.JSON}} NOT NULL,
    at         {{.Time}} NOT NULL
);
CREATE INDEX case_entries_case ON case_entries (case_id, id);
