-- +goose Up
-- OpenID Provider (internal/oidc): relying parties, the authorization code
-- flow, tokens, remembered consent and the keys that sign ID and access
-- tokens. Secrets are never stored in the clear: client secrets, codes and
-- refresh tokens are kept as SHA-256 hashes (they are 256-bit random
-- values, so a fast hash is enough), signing keys are sealed with
-- internal/secrets.

-- Relying parties: agency systems, plug-ins and apps.
CREATE TABLE oidc_clients (
    id                TEXT PRIMARY KEY,
    secret_hash       TEXT NOT NULL DEFAULT '',          -- '' for a public client (PKCE, no secret)
    name              TEXT NOT NULL,
    agency_id         TEXT REFERENCES agencies(id),     -- the agency that owns it, if any
    public            BOOLEAN NOT NULL DEFAULT FALSE,
    grant_types       {{.JSON}} NOT NULL,                -- JSON array of OAuth grant types
    redirect_uris     {{.JSON}} NOT NULL,                -- JSON array, matched exactly
    post_logout_uris  {{.JSON}} NOT NULL,                -- JSON array, matched exactly
    scopes            {{.JSON}} NOT NULL,                -- JSON array: extra scopes a client_credentials client may ask for
    created_at        {{.Time}} NOT NULL,
    disabled_at       {{.Time}}
);
CREATE INDEX oidc_clients_agency ON oidc_clients (agency_id);

-- Authorization requests between /oauth/authorize and the token exchange.
-- account_id, session_id, auth_time and amr are filled in once the person
-- has signed in; done once they have (or had already) consented.
CREATE TABLE oidc_auth_requests (
    id                     TEXT PRIMARY KEY,
    client_id              TEXT NOT NULL REFERENCES oidc_clients(id),
    redirect_uri           TEXT NOT NULL,
    scopes                 {{.JSON}} NOT NULL,
    state                  TEXT NOT NULL DEFAULT '',
    nonce                  TEXT NOT NULL DEFAULT '',
    response_type          TEXT NOT NULL,
    response_mode          TEXT NOT NULL DEFAULT '',
    code_challenge         TEXT NOT NULL DEFAULT '',
    code_challenge_method  TEXT NOT NULL DEFAULT '',
    prompt                 {{.JSON}} NOT NULL,
    max_age                BIGINT,                        -- seconds; NULL when not asked
    ui_locales             TEXT NOT NULL DEFAULT '',
    login_hint             TEXT NOT NULL DEFAULT '',
    account_id             TEXT NOT NULL DEFAULT '',
    session_id             TEXT NOT NULL DEFAULT '',
    auth_time              {{.Time}},
    amr                    {{.JSON}} NOT NULL,
    done                   BOOLEAN NOT NULL DEFAULT FALSE,
    consumed_at            {{.Time}},                     -- tokens were issued for it
    created_at             {{.Time}} NOT NULL,
    expires_at             {{.Time}} NOT NULL
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

-- Authorization codes, single use. A second use revokes what the first
-- one issued (RFC 6749 section 4.1.2).
CREATE TABLE oidc_codes (
    code_hash        TEXT PRIMARY KEY,
    auth_request_id  TEXT NOT NULL REFERENCES oidc_auth_requests(id),
    created_at       {{.Time}} NOT NULL,
    expires_at       {{.Time}} NOT NULL,
    used_at          {{.Time}}
);
CREATE UNIQUE INDEX oidc_codes_request ON oidc_codes (auth_request_id);   -- one code per request

-- Access tokens (JWTs; the row is their jti) for userinfo, introspection
-- and revocation. grant_id ties every token of one authorization together
-- (the auth request id), so a replayed code or a reused refresh token can
-- revoke them all. account_id is '' for client_credentials tokens.
CREATE TABLE oidc_tokens (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    account_id  TEXT NOT NULL DEFAULT '',
    grant_id    TEXT NOT NULL DEFAULT '',
    scopes      {{.JSON}} NOT NULL,
    created_at  {{.Time}} NOT NULL,
    expires_at  {{.Time}} NOT NULL,
    revoked_at  {{.Time}}
);
CREATE INDEX oidc_tokens_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_account ON oidc_tokens (account_id, client_id);

-- Refresh tokens: opaque, rotated on every use. A used token is dead; using
-- it again revokes its whole family (grant_id). Its id elsewhere (the
-- library's token id) is "rt_" + token_hash. Indexes are kept to what
-- lookups need: every index is written on every grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    scopes      {{.JSON}} NOT NULL,
    amr         {{.JSON}} NOT NULL,
    auth_time   {{.Time}} NOT NULL,
    created_at  {{.Time}} NOT NULL,
    expires_at  {{.Time}} NOT NULL,
    used_at     {{.Time}},
    revoked_at  {{.Time}}
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
CREATE INDEX oidc_refresh_tokens_account ON oidc_refresh_tokens (account_id, client_id);

-- Consent remembered per person and client: the union of the scopes they
-- agreed to. A request for scopes inside it is not asked again.
CREATE TABLE oidc_consents (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    client_id   TEXT NOT NULL REFERENCES oidc_clients(id),
    scopes      {{.JSON}} NOT NULL,
    granted_at  {{.Time}} NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- Signing keys. The newest key without retire_after signs; every key whose
-- retire_after is still ahead stays in the JWKS so tokens it signed verify
-- until they expire; then the row is deleted.
CREATE TABLE oidc_keys (
    id            TEXT PRIMARY KEY,                      -- kid
    alg           TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    private_key   TEXT NOT NULL,                          -- PKCS#8 DER, base64, sealed by internal/secrets
    created_at    {{.Time}} NOT NULL,
    retire_after  {{.Time}}
);
