-- +goose Up
-- WebAuthn ceremonies in progress: the challenge a browser must sign,
-- kept between "begin" and "finish" (a few minutes at most) so any replica
-- can finish what another began.
CREATE TABLE passkey_ceremonies (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('register', 'login')),
    account_id  TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL,                 -- JSON webauthn.SessionData
    expires_at  {{.Time}} NOT NULL
);
