-- +goose Up
-- Catalog search: one row per service (its latest published version),
-- written by catalog.Publish in the same transaction as the version. The
-- text columns hold terms already analysed in Go (folded, stop words
-- dropped, Snowball-stemmed; see internal/catalog/analyze.go), so each
-- engine's full-text index only has to split on spaces and both engines
-- match the same rows (ADR 14). Fields are separated by " | " in a fixed
-- order, which the ranking in Go reads back. The sort keys and ids are
-- ASCII and compared byte by byte on both engines (SQLite's BINARY,
-- PostgreSQL's "C"), so browsing orders alike everywhere.
CREATE TABLE catalog_search (
    rid         {{.Serial}},
    service_id  TEXT {{if .Postgres}}COLLATE "C" {{end}}NOT NULL UNIQUE,
    version     INTEGER NOT NULL,
    agency_id   TEXT NOT NULL REFERENCES agencies(id),
    category    TEXT NOT NULL,
    sort_en     TEXT {{if .Postgres}}COLLATE "C" {{end}}NOT NULL,
    sort_es     TEXT {{if .Postgres}}COLLATE "C" {{end}}NOT NULL,
    terms_en    TEXT NOT NULL,
    terms_es    TEXT NOT NULL{{if .Postgres}},
    tsv_en      tsvector GENERATED ALWAYS AS (to_tsvector('simple', terms_en)) STORED,
    tsv_es      tsvector GENERATED ALWAYS AS (to_tsvector('simple', terms_es)) STORED{{end}}
);
-- The jurisdictions each indexed service is offered in, so "services for
-- you" reads only the services offered where the person lives.
CREATE TABLE catalog_jurisdictions (
    service_id       TEXT NOT NULL REFERENCES catalog_search(service_id),
    jurisdiction_id  TEXT NOT NULL,
    PRIMARY KEY (jurisdiction_id, service_id)
);
CREATE INDEX catalog_jurisdictions_service ON catalog_jurisdictions (service_id);
CREATE INDEX catalog_search_category ON catalog_search (category);
CREATE INDEX catalog_search_agency ON catalog_search (agency_id);
CREATE INDEX catalog_search_sort_en ON catalog_search (sort_en, service_id);
CREATE INDEX catalog_search_sort_es ON catalog_search (sort_es, service_id);
{{- if .Postgres}}
CREATE INDEX catalog_search_tsv_en ON catalog_search USING GIN (tsv_en);
CREATE INDEX catalog_search_tsv_es ON catalog_search USING GIN (tsv_es);
{{- else}}
-- An external-content FTS5 index over catalog_search, kept in step by
-- triggers (the pattern in the FTS5 documentation).
CREATE VIRTUAL TABLE catalog_fts USING fts5(terms_en, terms_es, content='catalog_search', content_rowid='rid', tokenize='unicode61');
-- +goose StatementBegin
CREATE TRIGGER catalog_search_ai AFTER INSERT ON catalog_search BEGIN
    INSERT INTO catalog_fts (rowid, terms_en, terms_es) VALUES (new.rid, new.terms_en, new.terms_es);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER catalog_search_ad AFTER DELETE ON catalog_search BEGIN
    INSERT INTO catalog_fts (catalog_fts, rowid, terms_en, terms_es) VALUES ('delete', old.rid, old.terms_en, old.terms_es);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER catalog_search_au AFTER UPDATE ON catalog_search BEGIN
    INSERT INTO catalog_fts (catalog_fts, rowid, terms_en, terms_es) VALUES ('delete', old.rid, old.terms_en, old.terms_es);
    INSERT INTO catalog_fts (rowid, terms_en, terms_es) VALUES (new.rid, new.terms_en, new.terms_es);
END;
-- +goose StatementEnd
{{- end}}
