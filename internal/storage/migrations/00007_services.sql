-- +goose Up
-- Catalog: published service manifests. A row is immutable once written:
-- a change is a new version. An id belongs to the agency that first
-- published it (every version carries that agency).
CREATE TABLE services (
    id            TEXT NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    agency_id     TEXT NOT NULL REFERENCES agencies(id),
    manifest      {{.JSON}} NOT NULL,
    source        TEXT NOT NULL,
    published_at  {{.Time}} NOT NULL,
    published_by  TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX services_agency ON services (agency_id, id);
