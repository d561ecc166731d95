-- +goose Up
-- Revoking every token of a client at once (after a leak): a client's
-- own tokens have no row (ADR 60), so the client carries the time
-- before which its tokens are refused. A token whose issue time (iat,
-- whole seconds) is earlier than tokens_not_before is dead; NULL: never
-- revoked. Set by `portico oidc client revoke-tokens` and by the
-- client itself at POST /oauth/revoke_all.
ALTER TABLE oidc_clients ADD COLUMN tokens_not_before {{.Time}};
