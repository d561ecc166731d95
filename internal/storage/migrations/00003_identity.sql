-- +goose Up
-- Identity: one account per person, citizen or staff.
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('citizen', 'staff')),
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,          -- lowercased email, for lookups
    email_verified_at   {{.Time}},
    password_hash       TEXT NOT NULL DEFAULT '',
    platform_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    legal_name          TEXT NOT NULL DEFAULT '',
    date_of_birth       TEXT NOT NULL DEFAULT '',      -- YYYY-MM-DD or ''
    phone               TEXT NOT NULL DEFAULT '',
    lang                TEXT NOT NULL DEFAULT 'en',
    residential_address TEXT NOT NULL DEFAULT '{}',    -- JSON identity.Address
    mailing_address     TEXT NOT NULL DEFAULT '{}',
    totp_secret         TEXT NOT NULL DEFAULT '',      -- sealed by internal/secrets
    totp_enabled_at     {{.Time}},
    totp_last_step      BIGINT NOT NULL DEFAULT 0,     -- refuses replay of a used code
    created_at          {{.Time}} NOT NULL,
    updated_at          {{.Time}} NOT NULL,
    disabled_at         {{.Time}}
);

CREATE TABLE recovery_codes (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    code_hash   TEXT NOT NULL,
    used_at     {{.Time}},
    PRIMARY KEY (account_id, code_hash)
);

-- One-time codes sent by email (sign-up, recovery, email change). Only a
-- hash of the code and of the link token is kept.
CREATE TABLE email_challenges (
    id          TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL CHECK (purpose IN ('signup', 'recover', 'email_change')),
    email_key   TEXT NOT NULL,
    account_id  TEXT NOT NULL DEFAULT '',
    code_hash   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  {{.Time}} NOT NULL,
    expires_at  {{.Time}} NOT NULL,
    used_at     {{.Time}}
);
CREATE INDEX email_challenges_email ON email_challenges (email_key, created_at);

-- Sessions: the cookie holds a 256-bit random token; only its SHA-256 is
-- stored. stage is 'full' once every required factor was presented.
CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,                 -- public id, for listing and ending
    token_hash       TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    stage            TEXT NOT NULL CHECK (stage IN ('password', 'mfa_setup', 'full')),
    method           TEXT NOT NULL DEFAULT '',         -- password, password+totp, passkey, recovery_code
    created_at       {{.Time}} NOT NULL,
    last_seen_at     {{.Time}} NOT NULL,
    authenticated_at {{.Time}} NOT NULL,               -- last full (re-)authentication
    expires_at       {{.Time}} NOT NULL,               -- absolute lifetime
    user_agent       TEXT NOT NULL DEFAULT '',
    ip               TEXT NOT NULL DEFAULT '',
    ended_at         {{.Time}}
);
CREATE INDEX sessions_account ON sessions (account_id, ended_at);

CREATE TABLE staff_roles (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    agency_id   TEXT NOT NULL REFERENCES agencies(id),
    role        TEXT NOT NULL CHECK (role IN ('agency_admin', 'caseworker', 'finance', 'auditor')),
    created_at  {{.Time}} NOT NULL,
    PRIMARY KEY (account_id, agency_id, role)
);
CREATE INDEX staff_roles_agency ON staff_roles (agency_id);

-- Failed-attempt counters for throttling, per account and per client IP.
CREATE TABLE throttles (
    key           TEXT PRIMARY KEY,
    window_start  {{.Time}} NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  {{.Time}}
);

-- Passkeys (WebAuthn credentials).
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,                   -- credential id, base64url
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    name          TEXT NOT NULL DEFAULT '',
    credential    TEXT NOT NULL,                      -- JSON webauthn.Credential
    created_at    {{.Time}} NOT NULL,
    last_used_at  {{.Time}}
);
CREATE INDEX passkeys_account ON passkeys (account_id);
