-- +goose Up
-- Plug-ins as data (ADR 31): the registry of plug-ins (microservices of
-- agencies and private providers), which agencies have enabled each one
-- and with what personal data, and the access rights of their services.
-- The history of every change is in the audit log.

-- One row per registered plug-in: its current manifest (JSON, keys
-- sorted) and OpenAPI document as registered. revision counts
-- registrations of the same id. webhook_secret is sealed with
-- internal/secrets (context "plugin-webhook:<id>").
CREATE TABLE plugins (
    id               TEXT PRIMARY KEY,
    revision         INTEGER NOT NULL,
    version          TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL,
    name_es          TEXT NOT NULL,
    provider_agency  TEXT NOT NULL DEFAULT '',
    provider_name    TEXT NOT NULL DEFAULT '',
    base_url         TEXT NOT NULL,
    manifest         TEXT NOT NULL,
    openapi          TEXT NOT NULL,
    openapi_sha256   TEXT NOT NULL,
    webhook_secret   TEXT NOT NULL,
    registered_at    {{.Time}} NOT NULL,
    updated_at       {{.Time}} NOT NULL
);
CREATE INDEX plugins_provider_agency ON plugins (provider_agency);

-- An agency's use of a plug-in. status: enabled; disabled (kept, with
-- when); needs_approval (the plug-in now asks for more data than the
-- agency approved). data: the personal data the agency approved (JSON
-- list, a subset of what the manifest asks for).
CREATE TABLE plugin_enablements (
    plugin_id    TEXT NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    agency_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    data         TEXT NOT NULL,
    approved_at  {{.Time}} NOT NULL,
    approved_by  TEXT NOT NULL,
    disabled_at  {{.Time}},
    updated_at   {{.Time}} NOT NULL,
    PRIMARY KEY (plugin_id, agency_id)
);
CREATE INDEX plugin_enablements_agency ON plugin_enablements (agency_id);

-- Access rights: which of an agency's services (service_id, or '*' for
-- all) may call which operation of a plug-in, carrying which data (JSON
-- list, a subset of what the agency approved). Everything else is refused.
CREATE TABLE plugin_access (
    agency_id    TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    plugin_id    TEXT NOT NULL REFERENCES plugins (id) ON DELETE CASCADE,
    operation    TEXT NOT NULL,
    data         TEXT NOT NULL,
    granted_at   {{.Time}} NOT NULL,
    granted_by   TEXT NOT NULL,
    PRIMARY KEY (agency_id, plugin_id, operation, service_id)
);
CREATE INDEX plugin_access_plugin ON plugin_access (plugin_id);
