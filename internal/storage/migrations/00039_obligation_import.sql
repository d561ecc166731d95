-- +goose Up
-- Amounts owed that agencies load (portico obligations import, POST
-- /api/v1/obligations; internal/reminder/import.go). An imported
-- obligation's source is "import:" + reference + "/" + due date, so one
-- agency's instalment of one parcel is one obligation whoever it is owed
-- by: loading the same file twice changes nothing, and the same parcel and
-- due date for a second person is refused rather than charged twice. The
-- importer looks rows up by (agency_id, source) with the same LIKE term,
-- which lets both engines use this partial index.
CREATE UNIQUE INDEX obligations_imported ON obligations (agency_id, source) WHERE source LIKE 'import:%';
