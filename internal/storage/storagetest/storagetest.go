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
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
// PostgreSQL dropped) when the test ends. The database is a copy of one
// migrated once per schema (see MigratedURL); Migrate still runs on it, and
// finds nothing to do.
func Open(t testing.TB, d storage.Dialect) *storage.DB {
	t.Helper()
	u := MigratedURL(t, d)
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

// MigratedURL returns the URL of a new database of dialect d whose schema is
// already up to date: a copy of a template database migrated once per schema
// digest (storage.SchemaDigest). Migrating from nothing costs seconds per
// database on PostgreSQL and tests make hundreds; copying a template costs
// a fraction. The template is shared by test binaries running at once
// (built under an advisory lock on PostgreSQL, renamed into place on
// SQLite) and by later runs with the same migrations. Tests of migration
// itself use NewURL.
func MigratedURL(t testing.TB, d storage.Dialect) string {
	t.Helper()
	switch d {
	case storage.SQLite:
		src, err := sqliteTemplate()
		if err != nil {
			t.Fatalf("storagetest: SQLite template: %v", err)
		}
		dir, err := os.MkdirTemp("", "portico-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		dst := filepath.Join(dir, "portico.db")
		if err := copyFile(src, dst); err != nil {
			t.Fatalf("storagetest: copy SQLite template: %v", err)
		}
		return storage.SQLiteURL(dst)
	case storage.Postgres:
		admin := os.Getenv(PostgresEnv)
		if admin == "" {
			t.Skipf("PostgreSQL test skipped: %s is not set", PostgresEnv)
		}
		tmpl, err := postgresTemplate(admin)
		if err != nil {
			t.Fatalf("storagetest: PostgreSQL template: %v", err)
		}
		return createPostgresDB(t, admin, tmpl)
	}
	t.Fatalf("storagetest: unknown dialect %q", d)
	return ""
}

type template struct {
	once sync.Once
	name string
	err  error
}

var sqliteTmpl, postgresTmpl template

// sqliteTemplate returns the path of a migrated SQLite database file for
// this schema, making it on first use.
func sqliteTemplate() (string, error) {
	sqliteTmpl.once.Do(func() {
		digest, err := storage.SchemaDigest(storage.SQLite)
		if err != nil {
			sqliteTmpl.err = err
			return
		}
		path := filepath.Join(os.TempDir(), "portico-test-template-"+digest[:20]+".db")
		if _, err := os.Stat(path); err == nil {
			sqliteTmpl.name = path
			return
		}
		dir, err := os.MkdirTemp("", "portico-template-")
		if err != nil {
			sqliteTmpl.err = err
			return
		}
		defer os.RemoveAll(dir)
		built := filepath.Join(dir, "portico.db")
		if err := migrateAt(storage.SQLiteURL(built)); err != nil {
			sqliteTmpl.err = err
			return
		}
		// Closing the last connection checkpointed the write-ahead log
		// into the file; a leftover log means it did not.
		if _, err := os.Stat(built + "-wal"); err == nil {
			sqliteTmpl.err = fmt.Errorf("%s-wal is left after close", built)
			return
		}
		// Another test binary may have renamed its own copy into place
		// meanwhile; either is the same schema, so the rename wins either way.
		if err := os.Rename(built, path); err != nil {
			sqliteTmpl.err = err
			return
		}
		sqliteTmpl.name = path
	})
	return sqliteTmpl.name, sqliteTmpl.err
}

// postgresTemplate returns the name of a migrated database on the server
// at adminURL to copy for this schema, making it on first use.
func postgresTemplate(adminURL string) (string, error) {
	postgresTmpl.once.Do(func() {
		postgresTmpl.name, postgresTmpl.err = buildPostgresTemplate(adminURL)
	})
	return postgresTmpl.name, postgresTmpl.err
}

func buildPostgresTemplate(adminURL string) (string, error) {
	digest, err := storage.SchemaDigest(storage.Postgres)
	if err != nil {
		return "", err
	}
	name := "portico_template_" + digest[:20]
	ctx := context.Background()
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// One builder at a time across every test binary on this server; the
	// others wait, then find it built.
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext('portico_test_template'))"); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, "SELECT pg_advisory_unlock(hashtext('portico_test_template'))") //nolint:errcheck
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + building
	if err := migrateAt(u.String()); err != nil {
		return "", err
	}
	// Renamed only once complete: a template that exists is whole.
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func migrateAt(u string) error {
	ctx := context.Background()
	db, err := storage.Open(ctx, u)
	if err != nil {
		return err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
		return createPostgresDB(t, admin, "")
	}
	t.Fatalf("storagetest: unknown dialect %q", d)
	return ""
}

// createPostgresDB creates a new database, a copy of template unless it is
// "", dropped when the test ends.
func createPostgresDB(t testing.TB, adminURL, template string) string {
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
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
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
	// A test database does not outlive the server's own crash, so its
	// commits need not wait for the disk: synchronous_commit=off keeps
	// every guarantee a test can observe (a commit is visible and ordered
	// as before; the kill tests kill Portico, not PostgreSQL) and spares
	// each commit a flush of the write-ahead log on a machine where
	// hundreds of tests commit at once. It is set through libpq's
	// "options" parameter, which pgx sends too and pg_dump accepts
	// (the backup tests hand this URL to it).
	// Spaces as %20: neither pgx nor libpq reads "+" as a space.
	q := u.Query()
	q.Set("options", "-c synchronous_commit=off")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}
