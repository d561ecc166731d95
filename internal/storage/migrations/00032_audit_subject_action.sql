-- +goose Up
-- The console's plug-in catalogue shows each plug-in's calls of the last
-- 24 hours and its latest failed exchanges from the audit log. Those are
-- one subject's entries of one action in time order: an index range
-- (subject, action, at), newest first and bounded, never a walk of the
-- subject's whole history. seq cannot order them: on PostgreSQL the log
-- is eight chains, and order across chains is given by time.
CREATE INDEX audit_entries_subject_action ON audit_entries (subject, action, at);
