-- +goose Up
-- Shared rate limits (internal/ratelimit; ADR 58): the Notify API's
-- per-minute limit and the payments API's per-second limit are counted
-- here, so that every replica of an installation draws on one budget.
-- A limit's window is cut into buckets; a row counts the requests one key
-- made in one bucket. A request adds one to its bucket and is allowed when
-- the buckets still inside the window hold no more than the limit.
CREATE TABLE rate_counts (
    key     TEXT NOT NULL,      -- limiter name ':' caller's key
    bucket  BIGINT NOT NULL,    -- start of the bucket / bucket length
    n       INTEGER NOT NULL,
    PRIMARY KEY (key, bucket)
);
