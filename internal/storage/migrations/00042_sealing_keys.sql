-- +goose Up
-- Which keys this database was sealed and signed with (issue 14,
-- internal/secrets keyring.go, ADR 47).
--
-- One row per long-lived process key: 'secrets' (the AES-256-GCM key that
-- seals TOTP seeds, API keys, client secrets) and 'audit' (the Ed25519 key
-- that signs audit checkpoints). fingerprint identifies the key without
-- revealing it (an HMAC of the secrets key, a hash of the audit public
-- key); a process whose keys have other fingerprints refuses to start.
-- wrapped is the key encrypted by the key URL's keeper (a cloud KMS key,
-- or a local key-encryption key), '' while the key is kept only in the
-- data directory's files; keeper is that URL's scheme, never the URL
-- itself (a base64key:// URL is the key-encryption key).
CREATE TABLE sealing_keys (
    name        TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    wrapped     TEXT NOT NULL DEFAULT '',
    keeper      TEXT NOT NULL DEFAULT '',
    recorded_at {{.Time}} NOT NULL
);
