package secrets

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/awskms" // awskms:// key URLs (production)
	"gocloud.dev/secrets/localsecrets"

	"github.com/portico-gov/portico/internal/storage"
)

// The process keys, by the name the database records them under.
const (
	KeySecrets = "secrets" // seals stored secrets (Box)
	KeyAudit   = "audit"   // signs audit checkpoints
)

// File names of the keys in the key directory (DATA/keys).
const (
	SecretsKeyFile = "secrets.key"
	AuditKeyFile   = "audit-ed25519.pem"
)

// Keys are a process's two long-lived keys. Every replica of one
// installation must hold the same ones: a secret sealed by one replica is
// opened by another, and a checkpoint signed by any of them is verified
// with one public key.
type Keys struct {
	Secrets []byte             // 32 bytes for New
	Audit   ed25519.PrivateKey // for audit.NewSigner
	// From says where the keys came from, for logs: the key directory or
	// the key URL's scheme (never the URL: a base64key:// URL is a key).
	From string
}

// KeySource says where OpenKeys finds the keys.
type KeySource struct {
	// URL is a gocloud.dev/secrets keeper URL (awskms://…, base64key://…)
	// or file:///path (a 32-byte key-encryption key in a file, raw or in
	// base64). With a URL the keys are kept in the database wrapped by the
	// keeper, so every replica that can use the keeper has them. Empty:
	// the keys are the files in Dir (one machine).
	URL string
	// Dir is the key directory (DATA/keys). Without URL it holds the keys;
	// with one, keys already in it are moved into the database the first
	// time (an upgrade from files to a key URL).
	Dir string
	// DB names the database in messages (redacted).
	DB string
	// AuditKeyIDs, when set, returns the key ids that signed the newest
	// audit checkpoints (newest first). It is asked only before the first
	// fingerprints are recorded (an installation upgraded to this
	// version): a process that would record an audit key that signed none
	// of them refuses to start instead.
	AuditKeyIDs func(ctx context.Context) ([]string, error)
}

// ErrKeyMismatch is wrapped by every refusal of OpenKeys: the keys this
// process has (or has not) are not the ones the database was sealed and
// signed with.
var ErrKeyMismatch = errors.New("keys do not match the database")

// Fingerprint names a key without revealing it: an HMAC of the secrets key,
// a hash of the audit key's public half ("ed25519:" + 64 hex digits, whose
// first 16 are the audit checkpoints' key id).
func Fingerprint(name string, k *Keys) string {
	switch name {
	case KeySecrets:
		m := hmac.New(sha256.New, k.Secrets)
		m.Write([]byte("portico-key-fingerprint-v1"))
		return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
	case KeyAudit:
		sum := sha256.Sum256(k.Audit.Public().(ed25519.PublicKey))
		return "ed25519:" + hex.EncodeToString(sum[:])
	}
	return ""
}

var keyNames = []string{KeySecrets, KeyAudit}

// recorded is a row of sealing_keys.
type recorded struct {
	fingerprint, wrapped, keeper string
}

// OpenKeys returns the keys the database was sealed and signed with, from
// src, and refuses (an error wrapping ErrKeyMismatch that names the flag to
// fix) when src does not hold them. On a database that records no keys yet
// (a new installation, or the first start after upgrading to a version
// that records them) it records the fingerprints of the keys it has,
// creating keys only then. Concurrent first starts agree: one records, the
// others read what it recorded.
func OpenKeys(ctx context.Context, db *storage.DB, src KeySource) (*Keys, error) {
	rec, err := readRecorded(ctx, db)
	if err != nil {
		return nil, err
	}
	if src.URL == "" {
		return openFromDir(ctx, db, src, rec)
	}
	return openFromKeeper(ctx, db, src, rec)
}

func readRecorded(ctx context.Context, db *storage.DB) (map[string]recorded, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT name, fingerprint, wrapped, keeper FROM sealing_keys`)
	if err != nil {
		return nil, fmt.Errorf("secrets: read recorded keys: %w", err)
	}
	defer rows.Close()
	out := map[string]recorded{}
	for rows.Next() {
		var name string
		var r recorded
		if err := rows.Scan(&name, &r.fingerprint, &r.wrapped, &r.keeper); err != nil {
			return nil, err
		}
		out[name] = r
	}
	return out, rows.Err()
}

// openFromDir is the single-machine default: the keys are files in
// src.Dir, created only for a database that has recorded none.
func openFromDir(ctx context.Context, db *storage.DB, src KeySource, rec map[string]recorded) (*Keys, error) {
	if len(rec) == 0 {
		k, err := loadOrCreateDir(src.Dir)
		if err != nil {
			return nil, err
		}
		return record(ctx, db, src, k, nil)
	}
	k, missing, err := loadDir(src.Dir)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		keeper := ""
		for _, r := range rec {
			if r.keeper != "" {
				keeper = r.keeper
			}
		}
		if keeper != "" {
			return nil, fmt.Errorf("%w: the database at %s keeps its keys wrapped by a %s:// key URL, and this process has none: "+
				"set --key-url (env PORTICO_KEY_URL) to the key URL every replica uses", ErrKeyMismatch, src.DB, keeper)
		}
		return nil, fmt.Errorf("%w: the database at %s was sealed and signed with keys this process does not have (%s missing in %s): "+
			"start it with --data (env PORTICO_DATA) naming the data directory that holds them, or --key-url (env PORTICO_KEY_URL) naming the shared key store; "+
			"new keys were not created", ErrKeyMismatch, src.DB, strings.Join(missing, " and "), src.Dir)
	}
	if err := compare(src, k, rec, "the keys in "+src.Dir, "start it with --data (env PORTICO_DATA) naming the data directory the database's keys are in, or --key-url (env PORTICO_KEY_URL) naming the shared key store"); err != nil {
		return nil, err
	}
	if len(rec) < len(keyNames) {
		return record(ctx, db, src, k, nil)
	}
	k.From = src.Dir
	return k, nil
}

// openFromKeeper keeps the keys in the database, wrapped by the keeper
// src.URL names.
func openFromKeeper(ctx context.Context, db *storage.DB, src KeySource, rec map[string]recorded) (*Keys, error) {
	keeper, scheme, err := OpenKeeper(ctx, src.URL)
	if err != nil {
		return nil, err
	}
	defer keeper.Close()
	wrapped := 0
	for _, r := range rec {
		if r.wrapped != "" {
			wrapped++
		}
	}
	switch {
	case wrapped == len(keyNames):
		k, err := unwrap(ctx, keeper, rec)
		if err != nil {
			return nil, fmt.Errorf("%w: the key URL (--key-url, env PORTICO_KEY_URL; a %s:// URL) cannot open the keys the database at %s was sealed with: %v; "+
				"give every replica the key URL the database's keys were wrapped with", ErrKeyMismatch, scheme, src.DB, err)
		}
		if err := compare(src, k, rec, "the keys the key URL opens", "the database's keys were changed outside Portico; restore them from a backup"); err != nil {
			return nil, err
		}
		k.From = scheme + "://"
		return k, nil
	case len(rec) > 0:
		// Recorded from files (or half-moved): move the files' keys into
		// the database, if they are the recorded ones.
		k, missing, err := loadDir(src.Dir)
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: the database at %s was sealed with keys kept in a data directory, not yet under the key URL, and %s has no %s: "+
				"run once with --data (env PORTICO_DATA) naming the data directory that holds them and --key-url, to move them to the key store",
				ErrKeyMismatch, src.DB, src.Dir, strings.Join(missing, " or "))
		}
		if err := compare(src, k, rec, "the keys in "+src.Dir, "run once with --data (env PORTICO_DATA) naming the data directory that holds the database's keys and --key-url, to move them to the key store"); err != nil {
			return nil, err
		}
		return record(ctx, db, src, k, keeper)
	default:
		// Nothing recorded: an installation upgrading (its keys are in
		// Dir) or a new one (keys are made here, never written to disk).
		k, missing, err := loadDir(src.Dir)
		if err != nil {
			return nil, err
		}
		if len(missing) == len(keyNames) {
			if k, err = generate(); err != nil {
				return nil, err
			}
		} else if len(missing) > 0 {
			return nil, fmt.Errorf("secrets: %s holds only some of the keys (%s missing): restore it, or remove it to start with new keys", src.Dir, strings.Join(missing, ", "))
		}
		return record(ctx, db, src, k, keeper)
	}
}

// compare refuses keys whose fingerprints differ from those recorded.
func compare(src KeySource, k *Keys, rec map[string]recorded, what, fix string) error {
	var bad []string
	for _, name := range keyNames {
		if r, ok := rec[name]; ok && r.fingerprint != Fingerprint(name, k) {
			bad = append(bad, fmt.Sprintf("%s key %s, the database has %s", name, short(Fingerprint(name, k)), short(r.fingerprint)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s are not the keys the database at %s was sealed and signed with (%s): %s",
		ErrKeyMismatch, what, src.DB, strings.Join(bad, "; "), fix)
}

// short shortens a fingerprint for messages.
func short(fp string) string {
	if i := strings.IndexByte(fp, ':'); i >= 0 && len(fp) > i+17 {
		return fp[:i+17]
	}
	return fp
}

// record stores the fingerprints of k (and, with a keeper, k wrapped by it)
// for the names not yet recorded or not yet wrapped, then reads back what
// the database holds: when another process recorded first, its keys win
// (with a keeper they are unwrapped and returned; from files, a difference
// is a refusal).
func record(ctx context.Context, db *storage.DB, src KeySource, k *Keys, keeper *secrets.Keeper) (*Keys, error) {
	scheme := ""
	if keeper != nil {
		scheme = keeperScheme(src.URL)
	}
	existing, err := readRecorded(ctx, db)
	if err != nil {
		return nil, err
	}
	if len(existing) == 0 && src.AuditKeyIDs != nil {
		ids, err := src.AuditKeyIDs(ctx)
		if err != nil {
			return nil, err
		}
		want := strings.TrimPrefix(Fingerprint(KeyAudit, k), "ed25519:")[:16]
		if len(ids) > 0 && !slices.Contains(ids, want) {
			return nil, fmt.Errorf("%w: the audit log at %s was last signed with key %s, not with this process's audit key (%s, from %s): "+
				"start it with --data (env PORTICO_DATA) naming the data directory that holds the key that signed it; new keys were not recorded",
				ErrKeyMismatch, src.DB, ids[0], want, src.Dir)
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		for _, name := range keyNames {
			var wrapped string
			if keeper != nil {
				plain := k.Secrets
				if name == KeyAudit {
					plain = k.Audit.Seed()
				}
				ct, err := keeper.Encrypt(ctx, plain)
				if err != nil {
					return fmt.Errorf("secrets: wrap the %s key with the key URL (a %s:// URL): %w", name, scheme, err)
				}
				wrapped = base64.StdEncoding.EncodeToString(ct)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO sealing_keys (name, fingerprint, wrapped, keeper, recorded_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (name) DO NOTHING`, name, Fingerprint(name, k), wrapped, scheme, now); err != nil {
				return err
			}
			if wrapped != "" {
				// Moving file keys under the key URL: wrap the recorded key
				// only if it is this one.
				if _, err := tx.ExecContext(ctx, `UPDATE sealing_keys SET wrapped = $1, keeper = $2 WHERE name = $3 AND wrapped = '' AND fingerprint = $4`,
					wrapped, scheme, name, Fingerprint(name, k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: record keys: %w", err)
	}
	rec, err := readRecorded(ctx, db)
	if err != nil {
		return nil, err
	}
	if keeper != nil {
		if out, err := unwrap(ctx, keeper, rec); err == nil {
			if err := compare(src, out, rec, "the keys the key URL opens", "the database's keys were changed outside Portico; restore them from a backup"); err != nil {
				return nil, err
			}
			out.From = scheme + "://"
			return out, nil
		}
	}
	if err := compare(src, k, rec, "the keys in "+src.Dir, "another process recorded other keys first: give every replica the same --key-url (env PORTICO_KEY_URL), or the same key files"); err != nil {
		return nil, err
	}
	k.From = src.Dir
	return k, nil
}

func unwrap(ctx context.Context, keeper *secrets.Keeper, rec map[string]recorded) (*Keys, error) {
	k := &Keys{}
	for _, name := range keyNames {
		r, ok := rec[name]
		if !ok || r.wrapped == "" {
			return nil, fmt.Errorf("the %s key is not wrapped", name)
		}
		ct, err := base64.StdEncoding.DecodeString(r.wrapped)
		if err != nil {
			return nil, fmt.Errorf("the %s key: %w", name, err)
		}
		plain, err := keeper.Decrypt(ctx, ct)
		if err != nil {
			return nil, fmt.Errorf("the %s key: %w", name, err)
		}
		switch name {
		case KeySecrets:
			if len(plain) != 32 {
				return nil, fmt.Errorf("the secrets key is %d bytes, not 32", len(plain))
			}
			k.Secrets = plain
		case KeyAudit:
			if len(plain) != ed25519.SeedSize {
				return nil, fmt.Errorf("the audit key is %d bytes, not %d", len(plain), ed25519.SeedSize)
			}
			k.Audit = ed25519.NewKeyFromSeed(plain)
		}
	}
	return k, nil
}

// OpenKeeper opens a key URL: file:///path (a 32-byte key-encryption key
// in a file, raw or base64), base64key://KEY, or a cloud KMS URL
// (awskms://…). It refuses base64key:// without a key, which would make a
// random key no other replica has. It returns the URL's scheme for
// messages.
func OpenKeeper(ctx context.Context, raw string) (*secrets.Keeper, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, "", fmt.Errorf("--key-url: not a URL (want awskms://…, base64key://KEY or file:///path)")
	}
	scheme := u.Scheme
	switch scheme {
	case "file":
		if u.Path == "" || u.Host != "" {
			return nil, scheme, fmt.Errorf("--key-url: a file URL needs an absolute path, e.g. file:///etc/portico/kek")
		}
		b, err := os.ReadFile(u.Path)
		if err != nil {
			return nil, scheme, fmt.Errorf("--key-url: read the key-encryption key: %w", err)
		}
		key, err := kekFromFile(b)
		if err != nil {
			return nil, scheme, fmt.Errorf("--key-url: %s: %w", u.Path, err)
		}
		return localsecrets.NewKeeper(key), scheme, nil
	case localsecrets.Scheme:
		if u.Host == "" && u.Opaque == "" {
			return nil, scheme, fmt.Errorf("--key-url: base64key:// needs a key (32 bytes in base64): without one every process would make its own")
		}
	}
	k, err := secrets.OpenKeeper(ctx, raw)
	if err != nil {
		// The error may quote the URL, which for base64key is the key.
		if scheme == localsecrets.Scheme {
			return nil, scheme, fmt.Errorf("--key-url: base64key:// needs 32 bytes in URL-safe base64")
		}
		return nil, scheme, fmt.Errorf("--key-url: open the %s:// keeper: %v", scheme, err)
	}
	return k, scheme, nil
}

func keeperScheme(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Scheme
	}
	return ""
}

// kekFromFile reads a key-encryption key: 32 raw bytes, or 32 bytes in
// standard or URL-safe base64 (a trailing newline allowed).
func kekFromFile(b []byte) ([32]byte, error) {
	var key [32]byte
	if len(b) == 32 {
		copy(key[:], b)
		return key, nil
	}
	s := strings.TrimSpace(string(b))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil && len(d) == 32 {
			copy(key[:], d)
			return key, nil
		}
	}
	return key, errors.New("not a 32-byte key (raw, or in base64)")
}

func generate() (*Keys, error) {
	k := &Keys{Secrets: make([]byte, 32)}
	if _, err := rand.Read(k.Secrets); err != nil {
		return nil, fmt.Errorf("secrets: generate key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("secrets: generate audit key: %w", err)
	}
	k.Audit = priv
	return k, nil
}

// loadDir reads the key files in dir; missing lists the files that do not
// exist (their keys are then nil).
func loadDir(dir string) (k *Keys, missing []string, err error) {
	k = &Keys{}
	b, err := os.ReadFile(filepath.Join(dir, SecretsKeyFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		missing = append(missing, filepath.Join(dir, SecretsKeyFile))
	case err != nil:
		return nil, nil, fmt.Errorf("secrets: read key: %w", err)
	case len(b) != 32:
		return nil, nil, fmt.Errorf("secrets: %s must hold 32 bytes, has %d", filepath.Join(dir, SecretsKeyFile), len(b))
	default:
		k.Secrets = b
	}
	path := filepath.Join(dir, AuditKeyFile)
	b, err = os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		missing = append(missing, path)
	case err != nil:
		return nil, nil, fmt.Errorf("secrets: read audit key: %w", err)
	default:
		if k.Audit, err = parseAuditKey(path, b); err != nil {
			return nil, nil, err
		}
	}
	return k, missing, nil
}

// parseAuditKey reads a PKCS#8 PEM Ed25519 private key (the audit key
// file's format).
func parseAuditKey(path string, b []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("secrets: audit key file %s is not PEM", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("secrets: audit key file %s: %w", path, err)
	}
	ek, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("secrets: audit key file %s is not an Ed25519 key", path)
	}
	return ek, nil
}

// loadOrCreateDir reads the key files in dir, creating any that is
// missing (mode 0600, O_EXCL: a process that loses the race reads the
// winner's).
func loadOrCreateDir(dir string) (*Keys, error) {
	for {
		k, missing, err := loadDir(dir)
		if err != nil {
			return nil, err
		}
		if len(missing) == 0 {
			return k, nil
		}
		fresh, err := generate()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("secrets: key directory: %w", err)
		}
		if k.Secrets == nil {
			if err := writeExclusive(filepath.Join(dir, SecretsKeyFile), fresh.Secrets); err != nil {
				return nil, err
			}
		}
		if k.Audit == nil {
			der, err := x509.MarshalPKCS8PrivateKey(fresh.Audit)
			if err != nil {
				return nil, fmt.Errorf("secrets: encode audit key: %w", err)
			}
			if err := writeExclusive(filepath.Join(dir, AuditKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
				return nil, err
			}
		}
	}
}

// writeExclusive creates path with data, doing nothing when it exists
// (another process made it first). The file appears whole or not at all:
// it is written under a temporary name and linked into place, so a
// concurrent reader never sees half a key.
func writeExclusive(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return fmt.Errorf("secrets: write key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("secrets: write key: %w", werr)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("secrets: write key: %w", err)
	}
	return nil
}
