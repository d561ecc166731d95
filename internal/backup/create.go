package backup

import (
	"context"
	"encoding/json"
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

// attachmentsDir is the local default attachments store in the data
// directory; it is copied after the database (see Create).
const attachmentsDir = "attachments"

// Options are where a backup comes from and goes to.
type Options struct {
	DataDir string // the data directory (absolute), as the server runs with
	DB      string // the database URL the server runs with
	To      string // the backup directory: missing or empty
	Version string // the program's version, recorded in the manifest
	// Stores are the other stores' URLs by name ("attachments" →
	// s3://…): any not in the data directory is named in the manifest
	// as skipped.
	Stores map[string]string
	Now    func() time.Time
	// LookPath finds pg_dump/pg_restore (exec.LookPath when nil).
	LookPath func(string) (string, error)
}

// ToolMissingError says a PostgreSQL tool is not on PATH and what to run
// instead, once it is installed.
type ToolMissingError struct {
	Tool    string
	Command string // the command to run by hand
}

func (e *ToolMissingError) Error() string {
	return fmt.Sprintf("%s is not on PATH (install the PostgreSQL client tools of your server's version); then run:\n  %s", e.Tool, e.Command)
}

// Create writes a backup of o.DataDir and o.DB into o.To. It copies, in
// this order (ADR 53): the data directory's files but the database and
// attachments (keys and the audit anchor store first, so every anchored
// checkpoint the copy holds is of entries the database copy holds); the
// database, as one consistent snapshot; then the attachments (so every
// attachment the database copy names is there). The backup is written
// beside o.To and renamed into place when complete: a directory named
// o.To always holds a whole backup.
func Create(ctx context.Context, o Options) (Manifest, error) {
	m := Manifest{Format: FormatVersion, Version: o.Version}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.To == "" {
		return m, errors.New("backup: give the directory to write the backup to")
	}
	to, err := filepath.Abs(o.To)
	if err != nil {
		return m, fmt.Errorf("backup: %s: %w", o.To, err)
	}
	if fi, err := os.Stat(o.DataDir); err != nil || !fi.IsDir() {
		return m, fmt.Errorf("backup: the data directory %s does not exist", o.DataDir)
	}
	if inside(to, o.DataDir) {
		return m, fmt.Errorf("backup: %s is inside the data directory %s; write the backup elsewhere", to, o.DataDir)
	}
	if ok, err := emptyOrMissing(to); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	} else if !ok {
		return m, fmt.Errorf("%w: %s already holds files; give a new directory", ErrNotEmpty, to)
	}
	engine, target, err := storage.ParseURL(o.DB)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	m.Engine = string(engine)
	dbFiles := map[string]bool{}
	if engine == storage.SQLite {
		if fi, err := os.Stat(target); err != nil || !fi.Mode().IsRegular() {
			return m, fmt.Errorf("backup: there is no database at %s", target)
		}
		if rel, err := filepath.Rel(o.DataDir, target); err == nil && filepath.IsLocal(rel) {
			// -priority: the flag file of requests in flight (ADR 74).
			for _, suffix := range []string{"", "-wal", "-shm", "-journal", "-priority"} {
				dbFiles[filepath.ToSlash(rel)+suffix] = true
			}
		}
	}
	for name, u := range o.Stores {
		if u != "" && !localTo(u, o.DataDir) {
			m.Skipped = append(m.Skipped, name+" "+redact(u))
		}
	}

	m.CreatedAt = o.Now().UTC()
	stage := to + ".partial-" + strconv.FormatInt(m.CreatedAt.UnixNano(), 36)
	if err := os.MkdirAll(stage, 0o750); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(stage)
		}
	}()
	add := func(f File) { m.Files = append(m.Files, f) }
	data := filepath.Join(stage, DataName)
	if err := copyTree(o.DataDir, data, DataName, func(rel string) bool {
		return dbFiles[rel] || rel == attachmentsDir
	}, add); err != nil {
		return m, fmt.Errorf("backup: data directory: %w", err)
	}

	switch engine {
	case storage.SQLite:
		if err := snapshotSQLite(ctx, o.DB, filepath.Join(stage, SQLiteName)); err != nil {
			return m, err
		}
		f, err := digest(filepath.Join(stage, SQLiteName))
		if err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		f.Path = SQLiteName
		add(f)
	case storage.Postgres:
		out := filepath.Join(stage, DumpName)
		args := []string{"--format=custom", "--no-owner", "--file=" + out, "--dbname=" + libpqURL(target)}
		tool, err := o.LookPath("pg_dump")
		if err != nil {
			return m, &ToolMissingError{Tool: "pg_dump", Command: "pg_dump --format=custom --no-owner --file=" + filepath.Join(to, DumpName) + " --dbname='" + redact(target) + "'"}
		}
		if msg, err := exec.CommandContext(ctx, tool, args...).CombinedOutput(); err != nil {
			return m, fmt.Errorf("backup: pg_dump: %v: %s", err, strings.TrimSpace(redactIn(string(msg), target)))
		}
		f, err := digest(out)
		if err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		f.Path = DumpName
		add(f)
	}

	if src := filepath.Join(o.DataDir, attachmentsDir); isDir(src) {
		if err := copyTree(src, filepath.Join(data, attachmentsDir), DataName+"/"+attachmentsDir, nil, add); err != nil {
			return m, fmt.Errorf("backup: attachments: %w", err)
		}
	}

	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("backup: manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, ManifestName), append(b, '\n'), 0o640); err != nil {
		return m, fmt.Errorf("backup: manifest: %w", err)
	}
	if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) { // an empty directory given
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(stage, to); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	ok = true
	return m, syncDir(filepath.Dir(to))
}

// snapshotSQLite copies the database at dbURL into the new file dst with
// VACUUM INTO: one read transaction, so the copy is consistent while the
// server keeps writing (WAL), and compact.
func snapshotSQLite(ctx context.Context, dbURL, dst string) error {
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	if _, err := db.Write().ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("backup: copy the database: %w", err)
	}
	return nil
}

// inside reports whether path is dir or inside it.
func inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// localTo reports whether the store URL u (file:///dir?…) keeps its
// files inside dir.
func localTo(u, dir string) bool {
	path, ok := strings.CutPrefix(u, "file://")
	if !ok {
		return false
	}
	path, _, _ = strings.Cut(path, "?")
	return inside(filepath.FromSlash(path), dir)
}

// redact hides a URL's password.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return u
}

// redactIn hides u's password wherever a tool's message repeats u.
func redactIn(msg, u string) string { return strings.ReplaceAll(msg, u, redact(u)) }
