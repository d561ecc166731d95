// Package password checks and hashes passwords the way NIST SP 800-63B-4
// and OWASP ASVS 5.0 level 2 ask:
//
//   - length only: at least 15 characters when the password is the only
//     factor, at least 8 once a second factor protects the account, and up
//     to 256 accepted (more than the 64 required); no composition rules, no
//     expiry;
//   - refuse commonly used, expected or compromised passwords: a
//     breach-derived blocklist shipped in the binary, checked against
//     normalised forms of the password (case, leetspeak, a word padded with
//     digits or symbols, a repeated word), the person's own names and email
//     and the site's name, and the zxcvbn strength estimator with a guess
//     threshold (check.go);
//   - compared exactly as typed: no trimming, no truncation, no Unicode
//     normalisation; each code point counts as one character;
//   - stored with argon2id (RFC 9106) and a 128-bit random salt, in the PHC
//     string format, so parameters can be raised and old hashes upgraded on
//     the next successful sign-in (NeedsRehash).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32
}

// Default is OWASP's recommended argon2id configuration (m=19 MiB, t=2,
// p=1): about 20 ms per hash on one core of the reference machine, which
// bounds the cost of an online guess without letting sign-ins exhaust a
// 2-core server (see docs/performance.md).
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32}

// Hash returns the PHC string for pw under p.
func Hash(pw string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash means a stored hash could not be parsed.
var ErrMalformedHash = errors.New("password: malformed hash")

// Parse splits a PHC argon2id string.
func Parse(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	// Refuse parameters no server of ours would write: a corrupted or
	// hostile row must not make one verification eat gigabytes.
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 20 || p.Threads < 1 || p.Threads > 16 {
		return p, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, ErrMalformedHash
	}
	p.KeyLen = uint32(len(key))
	return p, salt, key, nil
}

// Verify reports whether pw matches the encoded hash, in constant time
// with respect to the key.
func Verify(pw, encoded string) (bool, error) {
	p, salt, key, err := Parse(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters weaker than
// want, so the caller should store a fresh hash after a successful sign-in.
func NeedsRehash(encoded string, want Params) bool {
	p, _, _, err := Parse(encoded)
	if err != nil {
		return true
	}
	return p.Memory < want.Memory || p.Time < want.Time || p.KeyLen < want.KeyLen
}
