-- +goose Up
-- What applying needs beyond 00008: a revision per draft (the submission
-- token: a submit names the revision the person checked), the fee computed
-- at submission, when the expiry reminder went, and uploaded files.
ALTER TABLE applications ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN fee_amount INTEGER;
ALTER TABLE applications ADD COLUMN fee_currency TEXT;
ALTER TABLE applications ADD COLUMN reminded_at {{.Time}};
-- One draft per person and service: pressing "Start now" twice (or on two
-- devices) resumes the same draft instead of making a second one.
CREATE UNIQUE INDEX applications_one_draft ON applications (account_id, service_id) WHERE status = 'draft';

-- Files uploaded as answers. The answer is the attachment id; the bytes
-- live in blob storage under a key the server chose (blob_key).
CREATE TABLE application_attachments (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications(id),
    page            TEXT NOT NULL,
    field           TEXT NOT NULL,
    filename        TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    blob_key        TEXT NOT NULL,
    created_at      {{.Time}} NOT NULL
);
CREATE INDEX application_attachments_app ON application_attachments (application_id);
