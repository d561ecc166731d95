package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing/fstest"
	"text/template"

	"database/sql"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrationFiles are Portico's own migrations: numbered, forward-only, one
// transaction each. They are text/template files rendered per dialect with
// the column types in dialectTypes, so one set serves both engines.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// dialectTypes are the only engine differences a migration may use.
type dialectTypes struct {
	Time   string // a UTC instant
	Bytes  string
	JSON   string
	Serial string // an auto-incrementing 64-bit primary key column
	// Postgres is true when rendering for PostgreSQL. Only engine-specific
	// index structures may depend on it (full-text search: FTS5 on SQLite,
	// tsvector on PostgreSQL, ADR 14); tables stay the same on both.
	Postgres bool
}

var typesByDialect = map[Dialect]dialectTypes{
	SQLite: {
		Time:   "TIMESTAMP",
		Bytes:  "BLOB",
		JSON:   "TEXT",
		Serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
	},
	Postgres: {
		Time:     "TIMESTAMPTZ",
		Bytes:    "BYTEA",
		JSON:     "JSONB",
		Serial:   "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
		Postgres: true,
	},
}

// renderMigrations returns the migration files rendered for d.
func renderMigrations(d Dialect) (fs.FS, error) {
	out := fstest.MapFS{}
	types := typesByDialect[d]
	err := fs.WalkDir(migrationFiles, "migrations", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		raw, err := migrationFiles.ReadFile(path)
		if err != nil {
			return err
		}
		tmpl, err := template.New(path).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return fmt.Errorf("storage: migration %s: %w", path, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, types); err != nil {
			return fmt.Errorf("storage: migration %s: %w", path, err)
		}
		out[strings.TrimPrefix(path, "migrations/")] = &fstest.MapFile{Data: buf.Bytes()}
		return nil
	})
	return out, err
}

// MigrationReport says what Migrate did.
type MigrationReport struct {
	Dialect      Dialect  `json:"dialect"`
	RiverApplied []int    `json:"river_applied"`
	Applied      []string `json:"applied"`
	Version      int64    `json:"version"`
}

func (db *DB) goose() (*goose.Provider, error) {
	fsys, err := renderMigrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together must not race on the schema.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, db.write, fsys, opts...)
}

func (db *DB) riverMigrator() (*rivermigrate.Migrator[*sql.Tx], error) {
	if db.Dialect == SQLite {
		return rivermigrate.New(riversqlite.New(db.write), &rivermigrate.Config{Logger: quietLogger()})
	}
	return rivermigrate.New(riverdatabasesql.New(db.write), &rivermigrate.Config{Logger: quietLogger()})
}

func quietLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// Migrate brings the schema up to date: River's job tables first, then
// Portico's own migrations. It is safe to call on every start.
func (db *DB) Migrate(ctx context.Context) (*MigrationReport, error) {
	rep := &MigrationReport{Dialect: db.Dialect, RiverApplied: []int{}, Applied: []string{}}
	rm, err := db.riverMigrator()
	if err != nil {
		return nil, fmt.Errorf("storage: river migrator: %w", err)
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("storage: river migrations: %w", err)
	}
	for _, v := range res.Versions {
		rep.RiverApplied = append(rep.RiverApplied, v.Version)
	}
	p, err := db.goose()
	if err != nil {
		return nil, fmt.Errorf("storage: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	for _, r := range results {
		rep.Applied = append(rep.Applied, r.Source.Path)
	}
	if rep.Version, err = p.GetDBVersion(ctx); err != nil {
		return nil, fmt.Errorf("storage: migration version: %w", err)
	}
	return rep, nil
}

// Pending reports whether any migration, River's or Portico's, has not been
// applied. Readiness fails while this is true.
func (db *DB) Pending(ctx context.Context) (bool, error) {
	rm, err := db.riverMigrator()
	if err != nil {
		return false, err
	}
	vr, err := rm.Validate(ctx, nil)
	if err != nil {
		return false, err
	}
	if !vr.OK {
		return true, nil
	}
	p, err := db.goose()
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}

// SchemaDigest identifies the schema Migrate builds on dialect d: a
// SHA-256 over River's migrations and Portico's rendered migration files.
// Two databases migrated by binaries with the same digest have the same
// schema, so tests can copy one migrated database instead of migrating
// each (storagetest).
func SchemaDigest(d Dialect) (string, error) {
	h := sha256.New()
	var rm *rivermigrate.Migrator[*sql.Tx]
	var err error
	if d == SQLite {
		rm, err = rivermigrate.New(riversqlite.New(nil), &rivermigrate.Config{Logger: quietLogger()})
	} else {
		rm, err = rivermigrate.New(riverdatabasesql.New(nil), &rivermigrate.Config{Logger: quietLogger()})
	}
	if err != nil {
		return "", fmt.Errorf("storage: river migrator: %w", err)
	}
	for _, m := range rm.AllVersions() {
		fmt.Fprintf(h, "river %d %d\n%s\n", m.Version, len(m.SQLUp), m.SQLUp)
	}
	fsys, err := renderMigrations(d)
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(fsys, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "goose %s %d\n%s\n", path, len(b), b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
