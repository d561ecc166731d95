// Package password checks and hashes passwords the way NIST SP 800-63B-4
// and OWASP ASVS 5.0 level 2 ask:
//
//   - length only: at least 15 characters when the password is the only
//     factor, at least 8 once a second factor protects the account, and up
//     to 256 accepted (more than the 64 required); no composition rules, no
//     expiry;
//   - a blocklist of common and breached passwords shipped in the binary,
//     checked case-insensitively;
//   - compared exactly as typed: no trimming, no truncation, no Unicode
//     normalisation; each code point counts as one character;
//   - stored with argon2id (RFC 9106) and a 128-bit random salt, in the PHC
//     string format, so parameters can be raised and old hashes upgraded on
//     the next successful sign-in (NeedsRehash).
package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Length limits in characters (Unicode code points).
const (
	MinSingleFactor = 15
	MinWithMFA      = 8
	Max             = 256
)

// Problem says why a new password is not acceptable. Its values are i18n
// message keys.
type Problem string

// Problems with a new password.
const (
	TooShort    Problem = "password.too_short"
	TooLong     Problem = "password.too_long"
	Common      Problem = "password.common"
	ContainsID  Problem = "password.contains_email"
	InvalidUTF8 Problem = "password.invalid"
)

//go:embed blocklist.txt.gz
var blocklistGz []byte

var (
	blocklistOnce sync.Once
	blocklist     map[string]struct{}
)

func loadBlocklist() {
	blocklist = make(map[string]struct{}, 20000)
	zr, err := gzip.NewReader(bytes.NewReader(blocklistGz))
	if err != nil {
		panic("password: embedded blocklist is corrupt: " + err.Error()) // build defect
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := sc.Text(); w != "" {
			blocklist[w] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded blocklist is corrupt: " + err.Error())
	}
}

// BlocklistSize is the number of passwords on the blocklist.
func BlocklistSize() int {
	blocklistOnce.Do(loadBlocklist)
	return len(blocklist)
}

// Check returns the first problem with pw as a new password for the
// account with the given email, or "" when it is acceptable. withMFA says
// whether a second factor protects the account.
func Check(pw, email string, withMFA bool) Problem {
	if !utf8.ValidString(pw) {
		return InvalidUTF8
	}
	n := utf8.RuneCountInString(pw)
	min := MinSingleFactor
	if withMFA {
		min = MinWithMFA
	}
	if n < min {
		return TooShort
	}
	if n > Max {
		return TooLong
	}
	lower := strings.ToLower(pw)
	blocklistOnce.Do(loadBlocklist)
	if _, bad := blocklist[lower]; bad {
		return Common
	}
	// Long passwords are rarely on breach lists but often made long
	// cheaply: one word or character repeated, or a keyboard or number run.
	if unit := repeatedUnit(lower); unit != "" {
		if _, bad := blocklist[unit]; bad || utf8.RuneCountInString(unit) < 5 {
			return Common
		}
	}
	if isSequence(lower) {
		return Common
	}
	// A password that is the account's own email, or its name part, is
	// the first thing an attacker tries.
	if email != "" {
		e := strings.ToLower(email)
		local, _, _ := strings.Cut(e, "@")
		if lower == e || (len(local) >= 4 && strings.Contains(lower, local) && utf8.RuneCountInString(lower)-utf8.RuneCountInString(local) < 4) {
			return ContainsID
		}
	}
	return ""
}

// repeatedUnit returns u when s is u repeated two or more times, else "".
func repeatedUnit(s string) string {
	r := []rune(s)
	for n := 1; n <= len(r)/2; n++ {
		if len(r)%n != 0 {
			continue
		}
		ok := true
		for i := n; i < len(r) && ok; i++ {
			ok = r[i] == r[i-n]
		}
		if ok {
			return string(r[:n])
		}
	}
	return ""
}

// isSequence reports whether s is a run of consecutive characters, up or
// down, wrapping 9→0 ("123456789012345") or a run along a keyboard row.
func isSequence(s string) bool {
	r := []rune(s)
	if len(r) < 4 {
		return false
	}
	step := func(a, b rune) int {
		switch {
		case b == a+1, a == '9' && b == '0':
			return 1
		case b == a-1, a == '0' && b == '9':
			return -1
		}
		return 0
	}
	dir := step(r[0], r[1])
	if dir != 0 {
		seq := true
		for i := 2; i < len(r) && seq; i++ {
			seq = step(r[i-1], r[i]) == dir
		}
		if seq {
			return true
		}
	}
	for _, row := range []string{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"} {
		doubled := row + row
		if strings.Contains(doubled, s) || strings.Contains(reverse(doubled), s) {
			return true
		}
	}
	return false
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

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
