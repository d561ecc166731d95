-- +goose Up
-- The plug-in registry's revision (ADR 46): one counter that every
-- change to plugins, plugin_enablements or plugin_access increments in
-- the change's own transaction (register, enable, disable, remove). The
-- gateway's access check caches its decisions per revision, so one read
-- of this row tells every replica whether its cached decisions still
-- hold; a change counts at once, everywhere.
CREATE TABLE plugin_registry_revision (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    revision  BIGINT NOT NULL
);
INSERT INTO plugin_registry_revision (id, revision) VALUES (1, 0);
