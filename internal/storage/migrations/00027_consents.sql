-- +goose Up
-- Consent and the once-only principle (issue 11, ADR 35; the consent
-- block, internal/consent). A consent is given by one person (account)
-- to one agency's service to share named personal data with one
-- plug-in, for a purpose, until a date; it can be withdrawn. What the
-- person was shown is kept with it (the names and the purpose in both
-- languages), so the page that lists it says what they agreed to even
-- after the plug-in or the service is renamed. data is a comma-separated
-- list in the plug-in data vocabulary (name, date_of_birth, address,
-- email, phone, answers:SERVICE). At most one consent of a person for
-- an agency's service and plug-in is active (not withdrawn); giving it
-- again renews that one.
CREATE TABLE consents (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    agency_id        TEXT NOT NULL,
    service_id       TEXT NOT NULL,
    plugin_id        TEXT NOT NULL,
    data             TEXT NOT NULL,
    service_name     TEXT NOT NULL,
    service_name_es  TEXT NOT NULL,
    plugin_name      TEXT NOT NULL,
    plugin_name_es   TEXT NOT NULL,
    provider_agency  TEXT NOT NULL DEFAULT '',
    provider_name    TEXT NOT NULL DEFAULT '',
    purpose          TEXT NOT NULL,
    purpose_es       TEXT NOT NULL,
    given_at         {{.Time}} NOT NULL,
    expires_at       {{.Time}} NOT NULL,
    withdrawn_at     {{.Time}}
);
-- The gateway's check before every call for a person (Covers) and the
-- person's page both start from the account: the check is an index
-- search bounded by the person's own consents.
CREATE INDEX consents_account ON consents (account_id, plugin_id, agency_id, service_id);

-- "Who has used my data": the audit entries of a use or read of a
-- person's data name the person (audit.Record.Person); NULL for every
-- other entry. Not part of an entry's hash (the chain's hash input is
-- fixed, ADR 4): it is an index into the log, and the entries it finds
-- are verified as ever. The page reads one person's entries newest
-- first, a page at a time, so its cost follows the person's own rows.
ALTER TABLE audit_entries ADD COLUMN person_id TEXT;
CREATE INDEX audit_entries_person ON audit_entries (person_id, seq);
