// Package storagetest gives tests a fresh, migrated database on every engine
// that is available: SQLite always, PostgreSQL when PORTICO_TEST_POSTGRES_URL
// names a server (each test gets its own new database there, dropped after).
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection

	"github.com/portico-gov/portico/internal/storage"
)

// PostgresEnv is the variable that enables PostgreSQL tests.
const PostgresEnv = "PORTICO_TEST_POSTGRES_URL"

var skipOnce sync.Once

// Dialects returns the engines tests should run against. When PostgreSQL is
// not configured it says so once per test binary, so a green run never hides
// that half the matrix did not run.
func Dialects(t testing.TB) []storage.Dialect {
	t.Helper()
	if os.Getenv(PostgresEnv) == "" {
		skipOnce.Do(func() {
			fmt.Fprintf(os.Stderr, "storagetest: PostgreSQL tests SKIPPED: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them\n", PostgresEnv)
		})
		return []storage.Dialect{storage.SQLite}
	}
	return []storage.Dialect{storage.SQLite, storage.Postgres}
}

// Each runs fn as a subtest once per available engine, each with a fresh
// migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh, migrated database of dialect d, closed (and on
// PostgreSQL dropped) when the test ends.
func Open(t testing.TB, d storage.Dialect) *storage.DB {
	t.Helper()
	u := NewURL(t, d)
	ctx := context.Background()
	db, err := storage.Open(ctx, u)
	if err != nil {
		t.Fatalf("storagetest: open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("storagetest: migrate %s: %v", d, err)
	}
	return db
}

// NewURL returns the URL of a new, empty database of dialect d. It skips
// the test when d is PostgreSQL and no server is configured.
func NewURL(t testing.TB, d storage.Dialect) string {
	t.Helper()
	switch d {
	case storage.SQLite:
		// Not t.TempDir(): it is named after the test, and a repeated
		// subtest name ("x#01") puts a "#" in the path, which SQLite's
		// DSN cannot carry.
		dir, err := os.MkdirTemp("", "portico-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return storage.SQLiteURL(filepath.Join(dir, "portico.db"))
	case storage.Postgres:
		admin := os.Getenv(PostgresEnv)
		if admin == "" {
			t.Skipf("PostgreSQL test skipped: %s is not set", PostgresEnv)
		}
		return createPostgresDB(t, admin)
	}
	t.Fatalf("storagetest: unknown dialect %q", d)
	return ""
}

func createPostgresDB(t testing.TB, adminURL string) string {
	t.Helper()
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatalf("storagetest: %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "portico_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storagetest: create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", adminURL)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("storagetest: %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
