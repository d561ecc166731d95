-- +goose Up
-- Each jurisdiction's time zone (an IANA name such as America/Chicago):
-- every date a person sees and every due date is in it. Empty means the
-- parent's zone; a state without one is UTC.
ALTER TABLE jurisdictions ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
