package secrets_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func newKEK(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "base64key://" + base64.URLEncoding.EncodeToString(b)
}

func sameKeys(a, b *secrets.Keys) bool {
	return bytes.Equal(a.Secrets, b.Secrets) && a.Audit.Equal(b.Audit)
}

func recordedRows(t *testing.T, db *storage.DB) map[string][2]string {
	t.Helper()
	rows, err := db.Read().QueryContext(context.Background(), `SELECT name, fingerprint, wrapped FROM sealing_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var n, fp, w string
		if err := rows.Scan(&n, &fp, &w); err != nil {
			t.Fatal(err)
		}
		out[n] = [2]string{fp, w}
	}
	return out
}

// TestOpenKeys walks an installation through the ways a process can meet
// its database: first start, restart, a wrong or missing data directory,
// a shared key URL, the move from files to a key URL, and a wrong key URL.
func TestOpenKeys(t *testing.T) {
	ctx := context.Background()
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		src := func(url, dir string) secrets.KeySource {
			return secrets.KeySource{URL: url, Dir: dir, DB: db.String()}
		}
		home := filepath.Join(t.TempDir(), "keys")
		first, err := secrets.OpenKeys(ctx, db, src("", home))
		if err != nil {
			t.Fatalf("first start: %v", err)
		}
		rec := recordedRows(t, db)
		if len(rec) != 2 || rec["secrets"][0] != secrets.Fingerprint("secrets", first) || rec["audit"][0] != secrets.Fingerprint("audit", first) || rec["secrets"][1] != "" {
			t.Fatalf("recorded %v", rec)
		}
		for _, r := range rec {
			if strings.Contains(r[0], base64.StdEncoding.EncodeToString(first.Secrets)) {
				t.Fatal("fingerprint holds the key")
			}
		}
		again, err := secrets.OpenKeys(ctx, db, src("", home))
		if err != nil || !sameKeys(first, again) {
			t.Fatalf("restart: %v", err)
		}

		other := filepath.Join(t.TempDir(), "keys")
		otherKeys, err := secrets.OpenKeys(ctx, storagetest.Open(t, storage.SQLite), src("", other)) // another installation's keys
		if err != nil {
			t.Fatal(err)
		}
		kek := newKEK(t)
		tests := []struct {
			name    string
			src     secrets.KeySource
			refused []string // substrings of the refusal; nil: opens the first keys
		}{
			{"a new empty data directory", src("", filepath.Join(t.TempDir(), "keys")), []string{"--data", "PORTICO_DATA", "does not have", "new keys were not created"}},
			{"another installation's keys", src("", other), []string{"not the keys the database", "--data", "secrets key hmac-sha256:"}},
			{"the right data directory", src("", home), nil},
			{"a key URL before the keys moved, with no files", src(kek, filepath.Join(t.TempDir(), "keys")), []string{"--data", "--key-url", "move them"}},
			{"a key URL with the wrong files", src(kek, other), []string{"not the keys the database"}},
			{"a key URL with the files: moves them", src(kek, home), nil},
			{"the key URL on a new replica", src(kek, filepath.Join(t.TempDir(), "keys")), nil},
			{"another key URL", src(newKEK(t), filepath.Join(t.TempDir(), "keys")), []string{"--key-url", "PORTICO_KEY_URL", "cannot open"}},
			{"no key URL and no files once moved", src("", filepath.Join(t.TempDir(), "keys")), []string{"--key-url", "base64key://"}},
			{"no key URL with the old files", src("", home), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				k, err := secrets.OpenKeys(ctx, db, tt.src)
				if tt.refused == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if !sameKeys(k, first) {
						t.Fatal("opened other keys than the database's")
					}
					return
				}
				if !errors.Is(err, secrets.ErrKeyMismatch) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				for _, want := range tt.refused {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not say %q", err, want)
					}
				}
				if strings.Contains(err.Error(), strings.TrimPrefix(kek, "base64key://")) {
					t.Error("the refusal quotes the key URL")
				}
				if tt.src.URL == "" && tt.src.Dir != other && tt.src.Dir != home {
					if _, err := os.Stat(tt.src.Dir); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("refused but created %s", tt.src.Dir)
					}
				}
			})
		}
		if rec := recordedRows(t, db); rec["secrets"][1] == "" || rec["audit"][1] == "" {
			t.Fatalf("keys not wrapped after the move: %v", rec)
		}
		if otherKeys == nil || sameKeys(otherKeys, first) {
			t.Fatal("two databases made the same keys")
		}
	})
}

// TestOpenKeysUpgrade: the first start after upgrading an installation
// records the keys it has, unless its audit key signed none of the log.
func TestOpenKeysUpgrade(t *testing.T) {
	ctx := context.Background()
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		dir := filepath.Join(t.TempDir(), "keys")
		// Keys an older version made (the same files, no record).
		made, err := secrets.OpenKeys(ctx, storagetest.Open(t, storage.SQLite), secrets.KeySource{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		keyID := strings.TrimPrefix(secrets.Fingerprint("audit", made), "ed25519:")[:16]
		wrongDir := filepath.Join(t.TempDir(), "keys")
		_, err = secrets.OpenKeys(ctx, db, secrets.KeySource{Dir: wrongDir, DB: db.String(),
			AuditKeyIDs: func(context.Context) ([]string, error) { return []string{keyID}, nil }})
		if !errors.Is(err, secrets.ErrKeyMismatch) || !strings.Contains(err.Error(), keyID) || !strings.Contains(err.Error(), "--data") {
			t.Fatalf("a new key on a signed log: %v", err)
		}
		if rec := recordedRows(t, db); len(rec) != 0 {
			t.Fatalf("recorded %v after refusing", rec)
		}
		got, err := secrets.OpenKeys(ctx, db, secrets.KeySource{Dir: dir, DB: db.String(),
			AuditKeyIDs: func(context.Context) ([]string, error) { return []string{"0123456789abcdef", keyID}, nil }})
		if err != nil || !sameKeys(got, made) {
			t.Fatalf("upgrade with the signing key: %v", err)
		}
		if rec := recordedRows(t, db); rec["audit"][0] != secrets.Fingerprint("audit", made) {
			t.Fatalf("recorded %v", rec)
		}
	})
}

// TestOpenKeysConcurrentFirstStart: replicas starting at once on a new
// database agree on one set of keys through the key URL; with separate
// data directories and no key URL, all but one refuse.
func TestOpenKeysConcurrentFirstStart(t *testing.T) {
	ctx := context.Background()
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		first := db
		for _, shared := range []bool{true, false} {
			db := first
			if !shared {
				db = storagetest.Open(t, db.Dialect)
			}
			kek := ""
			if shared {
				kek = newKEK(t)
			}
			const n = 4
			keys := make([]*secrets.Keys, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					keys[i], errs[i] = secrets.OpenKeys(ctx, db, secrets.KeySource{URL: kek, Dir: filepath.Join(t.TempDir(), "keys"), DB: db.String()})
				}()
			}
			wg.Wait()
			var ok []*secrets.Keys
			for i, err := range errs {
				if err == nil {
					ok = append(ok, keys[i])
				} else if !errors.Is(err, secrets.ErrKeyMismatch) {
					t.Fatalf("shared=%v: %v", shared, err)
				}
			}
			if shared && len(ok) != n || !shared && len(ok) != 1 {
				t.Fatalf("shared=%v: %d of %d started (%v)", shared, len(ok), n, errs)
			}
			for _, k := range ok[1:] {
				if !sameKeys(k, ok[0]) {
					t.Fatalf("shared=%v: replicas hold different keys", shared)
				}
			}
		}
	})
}

func TestOpenKeeper(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	raw := make([]byte, 32)
	rand.Read(raw)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + filepath.ToSlash(p)
	}
	tests := []struct {
		name, url, err string
	}{
		{"raw key file", write("raw", raw), ""},
		{"base64 key file", write("b64", []byte(base64.StdEncoding.EncodeToString(raw)+"\n")), ""},
		{"base64key", newKEK(t), ""},
		{"short key file", write("short", raw[:16]), "not a 32-byte key"},
		{"missing key file", "file://" + filepath.Join(dir, "none"), "read the key-encryption key"},
		{"relative file URL", "file://kek", "absolute path"},
		{"base64key without a key", "base64key://", "needs a key"},
		{"base64key with a bad key", "base64key://c2hvcnQ=", "32 bytes"},
		{"no scheme", "/etc/kek", "not a URL"},
		{"unknown scheme", "vault2://x", "vault2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _, err := secrets.OpenKeeper(ctx, tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "--key-url") {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			ct, err := k.Encrypt(ctx, []byte("key"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := k.Decrypt(ctx, ct); err != nil || string(pt) != "key" {
				t.Fatalf("round trip: %q %v", pt, err)
			}
		})
	}
}
