-- +goose Up
-- The report console lists an agency's reports of one status newest
-- first, ties broken by number (internal/report StaffList). With number
-- in the index the rows come in exactly that order from the index; with
-- (agency_id, status, requested_at) alone, PostgreSQL at state scale at
-- times preferred walking every report by date (report_requests_requested)
-- and filtering, rather than sorting the ties (TestQueryPlansAtStateScale).
DROP INDEX report_requests_agency;
CREATE INDEX report_requests_agency ON report_requests (agency_id, status, requested_at, number);
