-- +goose Up
-- The notification block's templates, channels, citizens' preferences and
-- its GOV.UK Notify-compatible API (issue 5; docs/notify.md).

-- A template belongs to one agency. Every change is a new immutable row in
-- notify_template_versions; notify_templates.version is the latest.
CREATE TABLE notify_templates (
    id          TEXT PRIMARY KEY,
    agency_id   TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('email', 'sms')),
    version     INTEGER NOT NULL,
    created_at  {{.Time}} NOT NULL,
    updated_at  {{.Time}} NOT NULL
);
CREATE INDEX notify_templates_agency ON notify_templates (agency_id, type);

CREATE TABLE notify_template_versions (
    template_id TEXT NOT NULL REFERENCES notify_templates (id),
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    subject_es  TEXT NOT NULL DEFAULT '',
    body_es     TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  {{.Time}} NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- An agency's Notify "service": the uuid in its API keys and JWT iss, and
-- where delivery receipts go (callback_token is sealed with the secrets key).
CREATE TABLE notify_services (
    agency_id      TEXT PRIMARY KEY,
    service_id     TEXT NOT NULL UNIQUE,
    callback_url   TEXT NOT NULL DEFAULT '',
    callback_token TEXT NOT NULL DEFAULT '',
    created_at     {{.Time}} NOT NULL
);

-- API keys. HS256 needs the secret itself to check a token's signature, so
-- it is stored sealed (AES-GCM, internal/secrets) rather than hashed;
-- secret_hash (HMAC-SHA256 under the secrets key) lets an operator find a
-- leaked key without unsealing every row.
CREATE TABLE notify_api_keys (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES notify_services (service_id),
    name        TEXT NOT NULL,
    key_type    TEXT NOT NULL CHECK (key_type IN ('live', 'team', 'test')),
    secret      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  {{.Time}} NOT NULL,
    revoked_at  {{.Time}}
);
CREATE INDEX notify_api_keys_service ON notify_api_keys (service_id);

-- What each notification was made from, and the inbox's read state.
ALTER TABLE notifications ADD COLUMN template_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN template_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN api_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN key_type TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN provider_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN read_at {{.Time}};
ALTER TABLE notifications ADD COLUMN unsubscribe_url TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_inbox ON notifications (account_id, channel, created_at) WHERE account_id <> '';

-- A citizen's choice of channels and language. Critical messages ignore it
-- and always go by email.
CREATE TABLE notify_preferences (
    account_id  TEXT PRIMARY KEY,
    email       BOOLEAN NOT NULL DEFAULT TRUE,
    sms         BOOLEAN NOT NULL DEFAULT FALSE,
    inapp       BOOLEAN NOT NULL DEFAULT TRUE,
    phone       TEXT NOT NULL DEFAULT '',
    lang        TEXT NOT NULL DEFAULT '',
    updated_at  {{.Time}} NOT NULL
);

-- Text messages the development SMS provider of `portico demo` received.
CREATE TABLE dev_sms (
    id          TEXT PRIMARY KEY,
    received_at {{.Time}} NOT NULL,
    sender      TEXT NOT NULL DEFAULT '',
    recipient   TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX dev_sms_received ON dev_sms (received_at);
