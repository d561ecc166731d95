-- +goose Up
-- Notifications: every message Portico sends, one row per message and
-- channel, written in the transaction of the change that caused it (the
-- outbox) and updated by the delivery job. Statuses are GOV.UK Notify's.
-- agency_id is '' for platform messages (sign-in codes and the like).
CREATE TABLE notifications (
    id           TEXT PRIMARY KEY,
    agency_id    TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'inapp')),
    recipient    TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    body_text    TEXT NOT NULL,
    body_html    TEXT NOT NULL DEFAULT '',
    lang         TEXT NOT NULL DEFAULT 'en',
    critical     BOOLEAN NOT NULL DEFAULT FALSE,
    reference    TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('created', 'sending', 'delivered', 'permanent-failure', 'temporary-failure', 'technical-failure')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   {{.Time}} NOT NULL,
    sent_at      {{.Time}},
    completed_at {{.Time}}
);
CREATE INDEX notifications_agency ON notifications (agency_id, created_at);
CREATE INDEX notifications_recipient ON notifications (recipient, created_at);
CREATE INDEX notifications_status ON notifications (status, created_at);
CREATE INDEX notifications_reference ON notifications (reference) WHERE reference <> '';

-- The development mailbox: every message the in-process SMTP server of
-- `portico demo` (or `serve --dev-mailbox`) received. Never used in
-- production.
CREATE TABLE dev_mailbox (
    id           TEXT PRIMARY KEY,
    received_at  {{.Time}} NOT NULL,
    mail_from    TEXT NOT NULL,
    rcpt_to      TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    text_body    TEXT NOT NULL DEFAULT '',
    html_body    TEXT NOT NULL DEFAULT '',
    raw          TEXT NOT NULL,
    message_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dev_mailbox_received ON dev_mailbox (received_at);
