-- +goose Up
-- Report-a-problem services and their requests (issue 13, internal/report;
-- ADR 57): what Open311 GeoReport v2 calls services and service requests.

-- A report-a-problem service of an agency (a pothole, a broken
-- streetlight). code is its Open311 service_code, unique on the platform;
-- slug its address on the web (/report/SLUG). attributes is the service
-- definition's attributes as JSON (report.Attribute), in their order.
-- jurisdiction_id is the agency's jurisdiction when the service was
-- defined, so services.{fmt}?jurisdiction_id= reads one table.
CREATE TABLE report_services (
    code            TEXT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    agency_id       TEXT NOT NULL,
    jurisdiction_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_es         TEXT NOT NULL,
    description     TEXT NOT NULL,
    description_es  TEXT NOT NULL,
    keywords        TEXT NOT NULL,
    group_name      TEXT NOT NULL,
    notice          TEXT NOT NULL,
    expected_days   INTEGER NOT NULL,
    attributes      {{.JSON}} NOT NULL,
    updated_at      {{.Time}} NOT NULL
);

-- One reported problem. number is the public service_request_id; id the
-- row's own key. status is Open311's open|closed; state the finer one
-- (open, in_progress, fixed, not_fixed, duplicate). email, first_name,
-- last_name and phone are the reporter's and never leave the block in a
-- public answer. follow_hash is the SHA-256 of the reporter's private
-- follow link's token; token is the Open311 token (tokens/{token}).
CREATE TABLE report_requests (
    number        {{.Serial}},
    id            TEXT NOT NULL UNIQUE,
    token         TEXT NOT NULL UNIQUE,
    follow_hash   TEXT NOT NULL UNIQUE,
    service_code  TEXT NOT NULL REFERENCES report_services (code),
    agency_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    state         TEXT NOT NULL,
    status_notes  TEXT NOT NULL,
    description   TEXT NOT NULL,
    lat           DOUBLE PRECISION,
    lon           DOUBLE PRECISION,
    address       TEXT NOT NULL,
    address_id    TEXT NOT NULL,
    zipcode       TEXT NOT NULL,
    media_url     TEXT NOT NULL,
    attributes    {{.JSON}} NOT NULL,
    email         TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    phone         TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    lang          TEXT NOT NULL,
    via           TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    requested_at  {{.Time}} NOT NULL,
    updated_at    {{.Time}} NOT NULL,
    expected_at   {{.Time}} NOT NULL
);
-- GET requests.{fmt}: newest first within the date window, optionally by
-- service; the console: an agency's newest by status.
CREATE INDEX report_requests_requested ON report_requests (requested_at);
CREATE INDEX report_requests_service ON report_requests (service_code, requested_at);
CREATE INDEX report_requests_agency ON report_requests (agency_id, status, requested_at);
-- Reports near a point: a latitude band read by index, then longitude and
-- distance in Go.
CREATE INDEX report_requests_lat ON report_requests (lat, lon);
CREATE INDEX report_requests_zip ON report_requests (zipcode, requested_at);

-- A request's history: submitted, each status change with its note, a
-- reopening. by_kind says who (reporter, staff, api); by_id the staff
-- account (never shown to the public).
CREATE TABLE report_updates (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES report_requests (id),
    at          {{.Time}} NOT NULL,
    state       TEXT NOT NULL,
    note        TEXT NOT NULL,
    by_kind     TEXT NOT NULL,
    by_id       TEXT NOT NULL
);
CREATE INDEX report_updates_request ON report_updates (request_id, at);

-- Photos sent with a report from the web, in the attachments bucket under
-- reports/REQUEST/PHOTO (server-chosen keys); type sniffed, size and
-- SHA-256 kept.
CREATE TABLE report_photos (
    id            TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL REFERENCES report_requests (id),
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    created_at    {{.Time}} NOT NULL
);
CREATE INDEX report_photos_request ON report_photos (request_id);

-- Agencies' Open311 API keys: "o311_" and 256 random bits, shown once;
-- only the SHA-256 is kept (as payment_api_keys).
CREATE TABLE open311_keys (
    id           TEXT PRIMARY KEY,
    agency_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   {{.Time}} NOT NULL,
    revoked_at   {{.Time}}
);
CREATE INDEX open311_keys_agency ON open311_keys (agency_id, created_at);

-- The web form's rate limit per client address (a fixed window, as
-- feedback_throttles).
CREATE TABLE report_throttles (
    key           TEXT PRIMARY KEY,
    window_start  {{.Time}} NOT NULL,
    sent          INTEGER NOT NULL
);
