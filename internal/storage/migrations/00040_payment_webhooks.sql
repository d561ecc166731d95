-- +goose Up
-- Payment webhooks to agency systems, GOV.UK Pay style (issue 12;
-- internal/webhook/payhooks.go, docs/payments.md "Webhooks to agency
-- systems").

-- An agency's subscription: where to POST, which event types
-- (card_payment_succeeded, ... as a JSON array), and the signing secret,
-- sealed with the secrets box (shown once, at creation). A deleted
-- subscription keeps its row (deleted_at) so its deliveries still name it.
CREATE TABLE pay_webhooks (
    id          TEXT PRIMARY KEY,
    agency_id   TEXT NOT NULL,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL,
    deleted_at  {{.Time}}
);
CREATE INDEX pay_webhooks_agency ON pay_webhooks (agency_id);

-- One message per payment event and subscription, written with its River
-- job in the transaction that handles the event (events.Once; the unique
-- pair guards a repeated fan-out). id is the message's
-- webhook_message_id, body the exact bytes signed and sent on every
-- attempt. status: pending, delivered, dead (every attempt failed),
-- stopped (the subscription was deleted before it went out).
CREATE TABLE pay_webhook_deliveries (
    id            TEXT PRIMARY KEY,
    webhook_id    TEXT NOT NULL REFERENCES pay_webhooks (id),
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    payment_id    TEXT NOT NULL,
    agency_id     TEXT NOT NULL,
    body          TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    {{.Time}} NOT NULL,
    updated_at    {{.Time}} NOT NULL,
    delivered_at  {{.Time}},
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX pay_webhook_deliveries_webhook ON pay_webhook_deliveries (webhook_id, created_at);
