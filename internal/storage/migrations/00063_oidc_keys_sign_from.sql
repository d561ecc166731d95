-- +goose Up
-- A rotated signing key is published before it signs (ADR 80): the JWKS
-- carries it for a while first, so a plug-in or relying party that
-- cached the key set shortly before the rotation, and refetches at most
-- once a minute, has it when the first token it signs arrives.
-- sign_from is when the key starts signing; NULL for keys made before
-- this column (they signed from created_at).
ALTER TABLE oidc_keys ADD COLUMN sign_from {{.Time}};

