-- +goose Up
-- What a workflow's call_plugin actions keep of a plug-in's answer
-- (the manifest's record: a booking's id, its start and end) for later
-- calls' bindings (recorded.NAME: cancel that booking) and the
-- applicant's case page (the appointment). Only names the manifest
-- declares are kept, with string, number or boolean values (as JSON);
-- a later answer overwrites a name, a forget removes it. call_id is the
-- case_plugin_calls row whose answer gave the value.
CREATE TABLE case_records (
    case_id      TEXT NOT NULL REFERENCES cases(id),
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,
    call_id      BIGINT NOT NULL,
    recorded_at  {{.Time}} NOT NULL,
    PRIMARY KEY (case_id, name)
);
-- When a call that may pass was last tried and when its job tries
-- again, for the staff case page ("waiting for …, next try at …").
-- last_outcome (00029) already says why the last attempt failed.
ALTER TABLE case_plugin_calls ADD COLUMN last_tried_at {{.Time}};
ALTER TABLE case_plugin_calls ADD COLUMN next_try_at {{.Time}};
