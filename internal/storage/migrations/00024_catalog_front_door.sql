-- +goose Up
-- The front door (issue 10): life events and the most used services.
--
-- catalog_life_events: the life events (manifest life_events) of each
-- indexed service, written with catalog_search in the publishing
-- transaction, so a life-event page reads only its own rows.
CREATE TABLE catalog_life_events (
    life_event  TEXT NOT NULL,
    service_id  TEXT NOT NULL REFERENCES catalog_search(service_id),
    PRIMARY KEY (life_event, service_id)
);
CREATE INDEX catalog_life_events_service ON catalog_life_events (service_id);
-- catalog_usage: submissions per service per local day, counted in the
-- submission's own transaction. Each submission adds one to one of a few
-- shards (chosen at random), so two submissions of a popular service do
-- not queue on one row. The home page sums the last 90 days: at most
-- services × 90 × shards rows, whatever the population.
CREATE TABLE catalog_usage (
    service_id   TEXT NOT NULL,
    day          TEXT NOT NULL,
    shard        INTEGER NOT NULL,
    submissions  INTEGER NOT NULL,
    PRIMARY KEY (service_id, day, shard)
);
CREATE INDEX catalog_usage_day ON catalog_usage (day, service_id);
-- The search analyser now folds British spellings into US ones and the
-- index holds life events: empty it, and the catalog rebuilds it at the
-- next start (catalog.EnsureIndexed sees fewer rows than services).
DELETE FROM catalog_jurisdictions;
DELETE FROM catalog_search;
