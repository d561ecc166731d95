-- +goose Up
-- An agency system reads its agency's events in log order
-- (GET /api/v1/events?after=N): WHERE agency_id = $1 AND position > $2
-- ORDER BY position LIMIT n is one range scan of this index, however many
-- events other agencies have. Rows not yet sequenced (position NULL) are
-- never read by it, so they are left out of the index.
CREATE INDEX event_log_agency ON event_log (agency_id, position) WHERE position IS NOT NULL;
