// Package backup takes and restores a copy of one Portico installation's
// state (issue 14, "Operating it"; ADR 53): its database and the files of
// its data directory (the wrapped keys, the local attachments and audit
// anchor store, anything else the local defaults keep there).
//
// On SQLite the database is copied online with VACUUM INTO: a consistent
// snapshot taken inside one read transaction while the server goes on
// serving (WAL lets it write meanwhile). On PostgreSQL the database is the
// operator's to copy with its own tools: Create runs pg_dump when it is on
// PATH and otherwise says exactly what to run.
//
// A backup is a directory with a manifest (manifest.json) naming every
// file with its size and SHA-256; Restore checks each before anything is
// put in place, so a damaged or partial backup is refused rather than
// restored.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Engines a backup's database can come from.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// File names inside a backup directory.
const (
	ManifestName = "manifest.json"
	SQLiteName   = "portico.db"     // the database snapshot (SQLite)
	DumpName     = "portico.pgdump" // pg_dump's custom-format archive (PostgreSQL)
	DataName     = "data"           // the data directory's files
)

// FormatVersion is the manifest's layout; Restore refuses others.
const FormatVersion = 1

// Manifest describes a backup. Files are paths relative to the backup
// directory, with "/" separators.
type Manifest struct {
	Format    int       `json:"format"`
	Engine    string    `json:"engine"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"portico_version,omitempty"`
	Files     []File    `json:"files"`
	// Skipped are stores the backup did not copy because they are not
	// in the data directory (an s3:// attachments bucket, a database
	// outside it): the operator backs them up with their own tools.
	Skipped []string `json:"skipped,omitempty"`
}

// File is one file of a backup.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Bytes is the total size of the backup's files.
func (m Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// ErrNotEmpty is returned when a target directory already holds files
// and the caller did not ask to replace them.
var ErrNotEmpty = errors.New("backup: the directory is not empty")

// emptyOrMissing reports whether dir does not exist or is an empty
// directory; it fails when dir is a file.
func emptyOrMissing(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s is a file, not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// ReadManifest reads and checks the manifest of the backup in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return m, fmt.Errorf("backup: %s does not exist", dir)
		}
		return m, fmt.Errorf("backup: %s is not a Portico backup (it has no %s)", dir, ManifestName)
	}
	if err != nil {
		return m, fmt.Errorf("backup: read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("backup: %s: the manifest is not valid JSON: %w", filepath.Join(dir, ManifestName), err)
	}
	if m.Format != FormatVersion {
		return m, fmt.Errorf("backup: %s: manifest format %d is not one this version reads (%d)", dir, m.Format, FormatVersion)
	}
	if m.Engine != SQLite && m.Engine != Postgres {
		return m, fmt.Errorf("backup: %s: unknown database engine %q in the manifest", dir, m.Engine)
	}
	for _, f := range m.Files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return m, fmt.Errorf("backup: %s: the manifest names a file outside the backup: %q", dir, f.Path)
		}
	}
	return m, nil
}

// libpqURL is url for PostgreSQL's own tools: pgx, which Portico
// connects with, accepts parameters libpq does not (its pool settings,
// statement caches, query modes), and pg_dump and pg_restore refuse a URI
// with a parameter they do not know. Those are dropped; everything libpq
// knows (sslmode, options, application_name, …) is kept.
func libpqURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") || pgxOnly[k] {
			q.Del(k)
		}
	}
	// Spaces as %20: libpq decodes %XX only, not "+".
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// pgxOnly are pgx's connection-string parameters that are not libpq's.
var pgxOnly = map[string]bool{
	"statement_cache_capacity": true, "description_cache_capacity": true, "default_query_exec_mode": true,
	"prefer_simple_protocol": true, "min_read_buffer_size": true,
}
