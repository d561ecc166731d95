-- +goose Up
-- Events delivered to plug-ins by webhook (internal/webhook, ADR 33).

-- One row per event and plug-in it goes to, written with the delivery's
-- River job in the transaction that handles the event (events.Once), so
-- the pair (event_id, plugin_id) is unique and a repeated fan-out adds
-- nothing. body is the CloudEvent exactly as sent on every attempt (a
-- minimal payload per type: never account ids or unapproved data).
-- status: pending (waiting for its first or next attempt), delivered,
-- dead (every attempt failed: a dead letter), stopped (the plug-in answered
-- 410 Gone for this agency, or was disabled, before it went out).
CREATE TABLE webhook_deliveries (
    id             TEXT PRIMARY KEY,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    event_time     {{.Time}} NOT NULL,
    plugin_id      TEXT NOT NULL,
    agency_id      TEXT NOT NULL,
    url            TEXT NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_status    INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    replays        INTEGER NOT NULL DEFAULT 0,
    created_at     {{.Time}} NOT NULL,
    updated_at     {{.Time}} NOT NULL,
    delivered_at   {{.Time}},
    UNIQUE (event_id, plugin_id)
);
CREATE INDEX webhook_deliveries_plugin ON webhook_deliveries (plugin_id, created_at);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status);

-- A plug-in that answered 410 Gone for an agency's events: nothing more
-- goes to it for that agency until the agency enables the plug-in again
-- (an enablement approved after stopped_at lifts the stop).
CREATE TABLE webhook_stops (
    plugin_id    TEXT NOT NULL,
    agency_id    TEXT NOT NULL,
    stopped_at   {{.Time}} NOT NULL,
    delivery_id  TEXT NOT NULL,
    PRIMARY KEY (plugin_id, agency_id)
);

