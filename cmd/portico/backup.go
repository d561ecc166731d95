package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/portico-gov/portico/internal/backup"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
)

func backupCommand() *command {
	return &command{name: "backup", summary: "copy the database (online) and the data directory's files into a new backup directory", run: runBackup}
}

func restoreCommand() *command {
	return &command{name: "restore", summary: "check a backup and restore it into a new data directory", run: runRestore}
}

// runBackup: portico backup --to DIR [--data DIR | --db URL]. On SQLite
// it is safe while the server runs (ADR 53).
func runBackup(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico backup", "--to DIR [--data DIR | --db URL] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	to := fs.String("to", "", "the new `directory` to write the backup to (must not exist or be empty; not inside --data)")
	asJSON := fs.Bool("json", false, "print the backup's manifest as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usagef("--to DIR is required: the directory to write the backup to")
	}
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	m, err := backup.Create(ctx, backup.Options{DataDir: cfg.DataDir, DB: cfg.DB, To: *to, Version: version,
		Stores: map[string]string{"attachments": cfg.Attachments, "audit anchor": cfg.AuditAnchor}})
	if err != nil {
		return backupError(err)
	}
	return output(e, *asJSON, m, func(w io.Writer) {
		abs, _ := filepath.Abs(*to)
		fmt.Fprintf(w, "Backed up the %s database and %d files (%s) to %s.\n", m.Engine, len(m.Files), bytesText(m.Bytes()), abs)
		for _, s := range m.Skipped {
			fmt.Fprintf(w, "Not copied (outside the data directory; back it up with its own tools): %s\n", s)
		}
		if cfg.KeyURL != "" {
			fmt.Fprintln(w, "The keys are wrapped by --key-url: keep that key as well, or this backup cannot be read.")
		}
	})
}

// runRestore: portico restore --from DIR --data NEWDIR [--db URL] [--force].
func runRestore(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs := newFlags(e, "portico restore", "--from DIR --data NEWDIR [--db postgres://…] [--force] [--json]")
	cfg.RegisterStorage(fs, e.getenv, true)
	from := fs.String("from", "", "the backup `directory` (written by portico backup)")
	force := fs.Bool("force", false, "replace a data directory that holds files (it is kept, renamed .replaced-TIME) and, on PostgreSQL, the database's tables")
	asJSON := fs.Bool("json", false, "print what was restored as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" {
		return usagef("--from DIR is required: the backup to restore")
	}
	db := cfg.DB // before Finish defaults it to the SQLite file in --data
	if err := cfg.Finish(); err != nil {
		return usageError{err.Error()}
	}
	res, err := backup.Restore(ctx, backup.RestoreOptions{From: *from, DataDir: cfg.DataDir, DB: db, Force: *force})
	if err != nil {
		return backupError(err)
	}
	return output(e, *asJSON, res, func(w io.Writer) {
		m := res.Manifest
		fmt.Fprintf(w, "Restored the backup of %s (%s database, %d files) into %s.\n", m.CreatedAt.Format("January 2, 2006 15:04 UTC"), m.Engine, len(m.Files), cfg.DataDir)
		if res.Replaced != "" {
			fmt.Fprintf(w, "The data directory that was there is now %s.\n", res.Replaced)
		}
		fmt.Fprintf(w, "Check it with: portico audit verify --data %s%s\n", cfg.DataDir, map[bool]string{true: " --db …", false: ""}[m.Engine == backup.Postgres])
	})
}

// backupError turns a refusal about the operator's directories into a
// precise message (exit 1) rather than an internal error.
func backupError(err error) error {
	var tm *backup.ToolMissingError
	switch {
	case errors.Is(err, backup.ErrNotEmpty), errors.As(err, &tm):
		return &platform.Error{Code: platform.CodeConflict, Message: err.Error()}
	}
	return &platform.Error{Code: platform.CodeInvalid, Message: err.Error()}
}

// bytesText is a size as people read it.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
