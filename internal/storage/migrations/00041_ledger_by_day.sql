-- +goose Up
-- The finance console's reports (internal/payment, report.go) read an
-- agency's ledger one day (or a range of days) at a time: without this
-- index a day's report walks every line the agency ever posted
-- (ledger_entries_agency is by account), which grows by millions.
CREATE INDEX ledger_entries_agency_at ON ledger_entries (agency_id, at);

-- +goose Down
DROP INDEX ledger_entries_agency_at;
