package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/storage"
)

// RestoreOptions are which backup to restore and where.
type RestoreOptions struct {
	From    string // the backup directory
	DataDir string // the data directory to restore into (absolute)
	// DB is the PostgreSQL database to restore a PostgreSQL backup into;
	// a SQLite backup is always restored to DataDir/portico.db.
	DB string
	// Force replaces a data directory that holds files (it is kept,
	// renamed DataDir.replaced-TIME) and, on PostgreSQL, drops the
	// objects the archive recreates.
	Force    bool
	Now      func() time.Time
	LookPath func(string) (string, error)
}

// Restored is what Restore did.
type Restored struct {
	Manifest Manifest
	// Replaced is where the data directory that was there was moved
	// ("" when there was none).
	Replaced string
}

// Restore checks the backup in o.From (every file's size and SHA-256, and
// SQLite's own integrity check of the database copy) and only then puts
// it in place: into o.DataDir, which must be missing or empty unless
// o.Force. The restored directory is assembled beside o.DataDir and
// renamed into place, so a failed restore leaves o.DataDir as it was.
func Restore(ctx context.Context, o RestoreOptions) (Restored, error) {
	var res Restored
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.From == "" {
		return res, errors.New("restore: give the backup directory to restore from")
	}
	from, err := filepath.Abs(o.From)
	if err != nil {
		return res, fmt.Errorf("restore: %s: %w", o.From, err)
	}
	o.From = from
	m, err := ReadManifest(o.From)
	if err != nil {
		return res, err
	}
	res.Manifest = m
	for _, f := range m.Files {
		got, err := digest(filepath.Join(o.From, filepath.FromSlash(f.Path)))
		if err != nil {
			return res, fmt.Errorf("restore: the backup is incomplete: %w", err)
		}
		if got.Size != f.Size || got.SHA256 != f.SHA256 {
			return res, fmt.Errorf("restore: the backup is damaged: %s is not the file the manifest records", f.Path)
		}
	}
	if inside(o.DataDir, o.From) || inside(o.From, o.DataDir) {
		return res, fmt.Errorf("restore: the data directory %s and the backup %s must not contain each other", o.DataDir, o.From)
	}
	empty, err := emptyOrMissing(o.DataDir)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if !empty && !o.Force {
		return res, fmt.Errorf("%w: %s already holds files; restore into a new directory, or give --force to replace it (it is kept, renamed)", ErrNotEmpty, o.DataDir)
	}
	var pgURL string
	switch m.Engine {
	case SQLite:
		if o.DB != "" {
			if engine, path, err := storage.ParseURL(o.DB); err != nil || engine != storage.SQLite || filepath.Clean(path) != filepath.Join(o.DataDir, SQLiteName) {
				return res, fmt.Errorf("restore: a SQLite backup is restored to %s; leave out --db", filepath.Join(o.DataDir, SQLiteName))
			}
		}
	case Postgres:
		engine, target, err := storage.ParseURL(o.DB)
		if err != nil || engine != storage.Postgres {
			return res, errors.New("restore: this backup is of a PostgreSQL database: give --db postgres://… (an empty database, or --force)")
		}
		pgURL = target
	}

	now := o.Now().UTC()
	stage := filepath.Clean(o.DataDir) + ".restoring-" + strconv.FormatInt(now.UnixNano(), 36)
	if err := os.MkdirAll(filepath.Dir(stage), 0o750); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(stage)
		}
	}()
	if err := copyTree(filepath.Join(o.From, DataName), stage, "", nil, func(File) {}); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(stage, 0o750); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	switch m.Engine {
	case SQLite:
		db := filepath.Join(stage, SQLiteName)
		if _, err := copyFile(filepath.Join(o.From, SQLiteName), db); err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
		if err := checkSQLite(ctx, db); err != nil {
			return res, err
		}
	case Postgres:
		if err := restorePostgres(ctx, o, pgURL, filepath.Join(o.From, DumpName)); err != nil {
			return res, err
		}
	}

	if isDir(o.DataDir) {
		if empty {
			if err := os.Remove(o.DataDir); err != nil {
				return res, fmt.Errorf("restore: %w", err)
			}
		} else {
			res.Replaced = filepath.Clean(o.DataDir) + ".replaced-" + now.Format("20060102T150405Z")
			if err := os.Rename(o.DataDir, res.Replaced); err != nil {
				return res, fmt.Errorf("restore: move the old data directory aside: %w", err)
			}
		}
	}
	if err := os.Rename(stage, o.DataDir); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	ok = true
	return res, syncDir(filepath.Dir(filepath.Clean(o.DataDir)))
}

// checkSQLite runs SQLite's integrity check on the database at path.
func checkSQLite(ctx context.Context, path string) error {
	db, err := storage.Open(ctx, storage.SQLiteURL(path))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer db.Close()
	var verdict string
	if err := db.Read().QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&verdict); err != nil {
		return fmt.Errorf("restore: check the database: %w", err)
	}
	if verdict != "ok" {
		return fmt.Errorf("restore: the database in the backup fails SQLite's integrity check: %s", verdict)
	}
	return nil
}

// restorePostgres loads a pg_dump archive into the database at url with
// pg_restore, in one transaction. Without force the database must hold
// no tables of its own.
func restorePostgres(ctx context.Context, o RestoreOptions, url, archive string) error {
	args := []string{"--no-owner", "--exit-on-error", "--single-transaction", "--dbname=" + libpqURL(url)}
	if o.Force {
		args = append(args, "--clean", "--if-exists")
	} else {
		db, err := storage.Open(ctx, url)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		var n int
		err = db.Read().QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n)
		db.Close()
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: the database %s has %d tables; restore into an empty database, or give --force to replace them", ErrNotEmpty, redact(url), n)
		}
	}
	args = append(args, archive)
	tool, err := o.LookPath("pg_restore")
	if err != nil {
		return &ToolMissingError{Tool: "pg_restore", Command: "pg_restore " + strings.Join(append(args[:3:3], "--dbname='"+redact(url)+"'", archive), " ")}
	}
	if msg, err := exec.CommandContext(ctx, tool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("restore: pg_restore: %v: %s", err, strings.TrimSpace(redactIn(string(msg), url)))
	}
	return nil
}
