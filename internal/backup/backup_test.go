package backup_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/backup"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// install is a data directory as the local defaults keep it, with a
// database of dialect d holding a probe table.
type install struct {
	data, db string
}

func newInstall(t *testing.T, d storage.Dialect) install {
	t.Helper()
	ctx := context.Background()
	in := install{data: filepath.Join(t.TempDir(), "data")}
	files := map[string]string{"keys/secrets.key": "wrapped secrets key", "keys/audit.key": "wrapped audit key",
		"audit-anchor/checkpoints/0001": "checkpoint 1", "attachments/app-1/photo.jpg": "\xff\xd8 a photo"}
	for name, body := range files {
		p := filepath.Join(in.data, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if d == storage.SQLite {
		in.db = storage.SQLiteURL(filepath.Join(in.data, "portico.db"))
	} else {
		in.db = storagetest.NewURL(t, d)
	}
	db, err := storage.Open(ctx, in.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE probe (pair INTEGER NOT NULL, half INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return in
}

// pairs counts the probe's rows, which writers add two at a time.
func pairs(t *testing.T, dbURL string) (rows int) {
	t.Helper()
	db, err := storage.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Read().QueryRow(`SELECT count(*) FROM probe`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestBackupRestore: a backup taken while a writer commits two rows per
// transaction holds whole transactions only, every file of the data
// directory with its permissions, and restores into a fresh directory
// (and, on PostgreSQL, a fresh database) to the same state. Restoring
// over files is refused without force and keeps them with it.
func TestBackupRestore(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			if d == storage.Postgres {
				if _, err := exec.LookPath("pg_dump"); err != nil {
					t.Skip("pg_dump is not on PATH")
				}
			}
			ctx := context.Background()
			in := newInstall(t, d)

			// A server writing while the backup runs.
			db, err := storage.Open(ctx, in.db)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					_ = db.InTx(ctx, func(tx *sql.Tx) error {
						for half := range 2 {
							if _, err := tx.ExecContext(ctx, `INSERT INTO probe (pair, half) VALUES ($1, $2)`, i, half); err != nil {
								return err
							}
						}
						return nil
					})
				}
			}()
			time.Sleep(50 * time.Millisecond)
			to := filepath.Join(t.TempDir(), "backup-1")
			m, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: in.db, To: to, Version: "test",
				Stores: map[string]string{"attachments": "s3://bucket?region=us-east-1", "audit anchor": "file://" + filepath.Join(in.data, "audit-anchor")}})
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if m.Engine != string(d) || len(m.Skipped) != 1 || !strings.HasPrefix(m.Skipped[0], "attachments s3://") {
				t.Errorf("manifest: engine %q, skipped %q", m.Engine, m.Skipped)
			}
			var names []string
			for _, f := range m.Files {
				names = append(names, f.Path)
			}
			want := "data/attachments/app-1/photo.jpg data/audit-anchor/checkpoints/0001 data/keys/audit.key data/keys/secrets.key portico.db"
			if d == storage.Postgres {
				want = strings.Replace(want, "portico.db", "portico.pgdump", 1)
			}
			if got := strings.Join(sorted(names), " "); got != want {
				t.Errorf("backup files:\n%s\nwant\n%s", got, want)
			}
			if fi, err := os.Stat(filepath.Join(to, "data/keys/secrets.key")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the key's copy: %v %v", fi, err)
			}

			// Restore into a fresh directory (and database).
			fresh := filepath.Join(t.TempDir(), "restored")
			ro := backup.RestoreOptions{From: to, DataDir: fresh}
			restoredDB := storage.SQLiteURL(filepath.Join(fresh, "portico.db"))
			if d == storage.Postgres {
				ro.DB = storagetest.NewURL(t, d)
				restoredDB = ro.DB
			}
			res, err := backup.Restore(ctx, ro)
			if err != nil {
				t.Fatal(err)
			}
			if res.Replaced != "" || res.Manifest.Engine != string(d) {
				t.Errorf("restore: %+v", res)
			}
			n := pairs(t, restoredDB)
			if n == 0 || n%2 != 0 {
				t.Errorf("the restored database has %d probe rows: want whole transactions of two, at least one", n)
			}
			for _, name := range []string{"keys/secrets.key", "attachments/app-1/photo.jpg", "audit-anchor/checkpoints/0001"} {
				a, _ := os.ReadFile(filepath.Join(in.data, name))
				b, err := os.ReadFile(filepath.Join(fresh, name))
				if err != nil || string(a) != string(b) {
					t.Errorf("restored %s: %q %v", name, b, err)
				}
			}

			// Again into the same place: refused, then replaced with --force.
			if _, err := backup.Restore(ctx, ro); !errors.Is(err, backup.ErrNotEmpty) {
				t.Fatalf("restore over a data directory: %v, want ErrNotEmpty", err)
			}
			ro.Force = true
			res, err = backup.Restore(ctx, ro)
			if err != nil {
				t.Fatal(err)
			}
			if res.Replaced == "" {
				t.Fatal("the replaced data directory was not kept")
			}
			if _, err := os.Stat(filepath.Join(res.Replaced, "keys/secrets.key")); err != nil {
				t.Errorf("the replaced directory lost its files: %v", err)
			}
			if got := pairs(t, restoredDB); got != n {
				t.Errorf("after a forced restore: %d rows, want %d", got, n)
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestRefusals: every bad path or damaged backup is refused with a
// message that names it (and no password).
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	in := newInstall(t, storage.SQLite)
	good := filepath.Join(t.TempDir(), "good")
	if _, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: in.db, To: good}); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.CopyFS(damaged, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, "data/keys/audit.key"), []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notBackup := t.TempDir()
	noTool := func(string) (string, error) { return "", exec.ErrNotFound }
	pg := "postgres://portico:secret@127.0.0.1:1/portico"
	fresh := func() string { return filepath.Join(t.TempDir(), "new") }

	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"backup without --to", func() error {
			_, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: in.db})
			return err
		}, "give the directory"},
		{"backup into a full directory", func() error {
			_, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: in.db, To: full})
			return err
		}, "already holds files"},
		{"backup into the data directory", func() error {
			_, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: in.db, To: filepath.Join(in.data, "backups")})
			return err
		}, "inside the data directory"},
		{"backup of a missing data directory", func() error {
			_, err := backup.Create(ctx, backup.Options{DataDir: filepath.Join(in.data, "nope"), DB: in.db, To: fresh()})
			return err
		}, "does not exist"},
		{"backup of a missing database", func() error {
			_, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: storage.SQLiteURL(filepath.Join(in.data, "other.db")), To: fresh()})
			return err
		}, "there is no database at"},
		{"backup of PostgreSQL without pg_dump", func() error {
			_, err := backup.Create(ctx, backup.Options{DataDir: in.data, DB: pg, To: fresh(), LookPath: noTool})
			return err
		}, "pg_dump --format=custom --no-owner --file="},
		{"restore from nowhere", func() error {
			_, err := backup.Restore(ctx, backup.RestoreOptions{From: filepath.Join(notBackup, "nope"), DataDir: fresh()})
			return err
		}, "does not exist"},
		{"restore from a directory that is not a backup", func() error {
			_, err := backup.Restore(ctx, backup.RestoreOptions{From: notBackup, DataDir: fresh()})
			return err
		}, "is not a Portico backup"},
		{"restore a damaged backup", func() error {
			_, err := backup.Restore(ctx, backup.RestoreOptions{From: damaged, DataDir: fresh()})
			return err
		}, "damaged: data/keys/audit.key"},
		{"restore over files", func() error {
			_, err := backup.Restore(ctx, backup.RestoreOptions{From: good, DataDir: full})
			return err
		}, "give --force"},
		{"restore SQLite to a --db elsewhere", func() error {
			_, err := backup.Restore(ctx, backup.RestoreOptions{From: good, DataDir: fresh(), DB: pg})
			return err
		}, "leave out --db"},
		{"restore into the backup", func() error {
			_, err := backup.Restore(ctx, backup.RestoreOptions{From: good, DataDir: filepath.Join(good, "data2")})
			return err
		}, "must not contain each other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secret@") {
				t.Errorf("the message shows a password: %v", err)
			}
		})
	}
}

// FuzzReadManifest: a backup directory is outside input. Whatever its
// manifest holds, reading it never panics, and an accepted manifest
// names only files inside the backup, of a known engine and format.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"engine":"sqlite","created_at":"2026-12-06T02:00:00Z","files":[{"path":"portico.db","size":1,"sha256":"00"}]}`))
	f.Add([]byte(`{"format":1,"engine":"postgres","files":[{"path":"../etc/passwd"}]}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, backup.ManifestName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := backup.ReadManifest(dir)
		if err != nil {
			return
		}
		if m.Format != backup.FormatVersion || (m.Engine != backup.SQLite && m.Engine != backup.Postgres) {
			t.Fatalf("accepted %+v", m)
		}
		for _, file := range m.Files {
			if !filepath.IsLocal(filepath.FromSlash(file.Path)) {
				t.Fatalf("accepted a file outside the backup: %q", file.Path)
			}
		}
	})
}
