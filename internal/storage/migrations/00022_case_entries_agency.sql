-- +goose Up
-- A staff member's console shows the latest timeline entries across their
-- agency's cases. Each entry carries its case's agency, so that list is an
-- index search (agency, latest first) and never a walk of every
-- case's timeline. Entries written before this migration take their
-- case's agency.
ALTER TABLE case_entries ADD COLUMN agency_id TEXT;
UPDATE case_entries SET agency_id = (SELECT c.agency_id FROM cases c WHERE c.id = case_entries.case_id);
CREATE INDEX case_entries_agency ON case_entries (agency_id, at, id);
