-- +goose Up
-- Report-a-problem services as agencies define them (issue 13, ADR 64).

-- The area a report-a-problem service covers (issue 13, ADR 64): its
-- bounding box as "south,west,north,east" in WGS84 degrees, or '' when the
-- agency gave none. The web form draws its map from it; without an area
-- the form offers the address search only.
ALTER TABLE report_services ADD COLUMN area TEXT NOT NULL DEFAULT '';


-- When the agency stopped taking reports through the service (NULL: it
-- takes them). A disabled service is not offered on the web or through
-- Open311 and refuses new reports; its reports stay readable and workable.
ALTER TABLE report_services ADD COLUMN disabled_at {{.Time}};
