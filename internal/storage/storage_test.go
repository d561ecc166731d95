package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func TestOpenRejectsBadURLs(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"", "no scheme"},
		{"mysql://localhost/x", "unsupported database scheme"},
		{"sqlite://", "no file path"},
		{"::not a url", "not a URL"},
		{"postgres://127.0.0.1:1/x?connect_timeout=1", "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := storage.Open(context.Background(), tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) error = %v, want containing %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestMigrateIsIdempotentAndReady(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rep, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Applied) != 0 || len(rep.RiverApplied) != 0 {
			t.Fatalf("second Migrate applied %v / river %v, want nothing", rep.Applied, rep.RiverApplied)
		}
		if rep.Version < 1 {
			t.Fatalf("version = %d", rep.Version)
		}
		pending, err := db.Pending(ctx)
		if err != nil || pending {
			t.Fatalf("Pending = %v, %v; want false", pending, err)
		}
	})
}

func TestPendingOnEmptyDatabase(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			db, err := storage.Open(context.Background(), storagetest.NewURL(t, d))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			pending, err := db.Pending(context.Background())
			if err != nil || !pending {
				t.Fatalf("Pending on empty db = %v, %v; want true", pending, err)
			}
		})
	}
}

// TestPortableSQL pins the SQL features blocks rely on to behave the same
// on both engines: $N placeholders, RETURNING, ON CONFLICT, time round trips
// in UTC, booleans and unique-violation detection.
func TestPortableSQL(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 24, 20, 1, 2, 345678000, time.UTC)
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var id string
			err := tx.QueryRowContext(ctx,
				`INSERT INTO jurisdictions (id, parent_id, kind, name, created_at) VALUES ($1, NULL, $2, $3, $4) RETURNING id`,
				"st", "state", "State", now).Scan(&id)
			if err != nil {
				return err
			}
			if id != "st" {
				t.Errorf("RETURNING id = %q", id)
			}
			res, err := tx.ExecContext(ctx,
				`INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
				"st", "state", "Again", now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("ON CONFLICT DO NOTHING affected %d rows", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		var isState bool
		if err := db.Read().QueryRowContext(ctx, `SELECT created_at, kind = 'state' FROM jurisdictions WHERE id = $1`, "st").Scan(&got, &isState); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(now) {
			t.Errorf("time round trip = %v, want %v", got, now)
		}
		if !isState {
			t.Error("boolean expression scanned false")
		}
		_, err = db.Write().ExecContext(ctx, `INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, $2, $3, $4)`, "st", "state", "Dup", now)
		if !storage.IsUniqueViolation(err) {
			t.Errorf("IsUniqueViolation(%v) = false", err)
		}
	})
}

func TestInTxRollsBackOnError(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, 'state', 'X', $2)`, "x", time.Now().UTC()); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v", err)
		}
		var n int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM jurisdictions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("rolled-back row is visible: %d rows", n)
		}
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		dialect storage.Dialect
		target  string
	}{
		{"sqlite:///var/lib/portico/portico.db", storage.SQLite, "/var/lib/portico/portico.db"},
		{"sqlite://./data/portico.db", storage.SQLite, "./data/portico.db"},
		{"sqlite:portico.db", storage.SQLite, "portico.db"},
		{"postgres://u:p@localhost:5432/db?sslmode=disable", storage.Postgres, "postgres://u:p@localhost:5432/db?sslmode=disable"},
	}
	for _, tt := range tests {
		d, target, err := storage.ParseURL(tt.url)
		if err != nil || d != tt.dialect || target != tt.target {
			t.Errorf("ParseURL(%q) = %s, %q, %v", tt.url, d, target, err)
		}
	}
	// A password never appears in an error.
	_, _, err := storage.ParseURL("postgres://u:hunter2@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks or is missing: %v", err)
	}
}

// TestSQLiteURL: a file path survives the trip through a storage URL,
// and a path with "#" or "?" (which SQLite's DSN cannot carry) is refused
// by name instead of silently naming a shorter path: a subtest's temporary
// directory is named "TestX#01", and two such tests once shared a file.
func TestSQLiteURL(t *testing.T) {
	for _, path := range []string{"/tmp/100%/x.db", "/tmp/with space/x.db", "data/portico.db", "./data/x.db", "/var/lib/portico/portico.db"} {
		d, target, err := storage.ParseURL(storage.SQLiteURL(path))
		if err != nil || d != storage.SQLite || target != path {
			t.Errorf("SQLiteURL(%q) → %q → %q, %v", path, storage.SQLiteURL(path), target, err)
		}
	}
	for _, path := range []string{"/tmp/TestX#01/portico.db", "/tmp/a?b/portico.db"} {
		if _, _, err := storage.ParseURL(storage.SQLiteURL(path)); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("SQLiteURL(%q): %v, want an error naming the path", path, err)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"sqlite:///x.db", "sqlite://./a/b.db", "postgres://u:secret@h:5432/d", "mysql://x", "::", "sqlite://", "postgres://u:secret@h:99999999/d", ":secret@secret"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d, target, err := storage.ParseURL(raw)
		if err != nil {
			// Only a URL whose one "secret" is the password can tell: in
			// ":secret@secret" the host is named secret too.
			if strings.Count(raw, "secret") == 1 && strings.Contains(raw, ":secret@") && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
			return
		}
		if (d != storage.SQLite && d != storage.Postgres) || target == "" {
			t.Fatalf("ParseURL(%q) = %q, %q without error", raw, d, target)
		}
	})
}
