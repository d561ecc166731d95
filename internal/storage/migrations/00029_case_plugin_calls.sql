-- +goose Up
-- A workflow's call_plugin actions (ADR 38). Entering a state whose
-- on_enter calls a plug-in inserts a row here and enqueues a River job
-- naming it, in the transition's transaction; the job makes the call
-- through the gateway after commit and records the outcome in a
-- transaction of its own. status: pending until then; ok (the plug-in
-- answered) or failed (no usable answer after the last attempt: staff
-- must act). The row's id is the call's Idempotency-Key, so a retry
-- never applies a non-idempotent operation twice, and a job that runs
-- twice finds the row no longer pending and records nothing.
-- use_pointer is the manifest's JSON pointer of the action
-- (manifest.PluginUse.Pointer); state the state the case entered.
CREATE TABLE case_plugin_calls (
    id            {{.Serial}},
    case_id       TEXT NOT NULL REFERENCES cases(id),
    state         TEXT NOT NULL,
    use_pointer   TEXT NOT NULL,
    plugin_id     TEXT NOT NULL,
    operation     TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_outcome  TEXT NOT NULL DEFAULT '',
    created_at    {{.Time}} NOT NULL,
    finished_at   {{.Time}}
);
CREATE INDEX case_plugin_calls_case ON case_plugin_calls (case_id, id);
