package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestoreJourney: `portico backup` copies a running demo (an
// online SQLite backup while it serves) with its keys, attachments and
// audit anchors; `portico restore` puts it into a fresh directory, where
// `portico audit verify` passes and the restored program serves Beto his
// application. Restoring over it again is refused; bad paths are precise
// errors with a non-zero exit.
func TestBackupRestoreJourney(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	_, a := startDemoApp(t, data)
	kase := openCase(t, a, "app-backup", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	if _, err := a.Audit.Checkpoint(t.Context()); err != nil { // an anchored checkpoint for verify to find
		t.Fatal(err)
	}

	bk := filepath.Join(dir, "backup")
	code, out, errOut := cli(t, nil, "backup", "--data", data, "--to", bk)
	if code != exitOK || !strings.Contains(out, "Backed up the sqlite database") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"manifest.json", "portico.db", "data/keys"} {
		if _, err := os.Stat(filepath.Join(bk, want)); err != nil {
			t.Errorf("the backup lacks %s: %v", want, err)
		}
	}

	restored := filepath.Join(dir, "restored")
	if code, out, errOut := cli(t, nil, "restore", "--from", bk, "--data", restored); code != exitOK || !strings.Contains(out, "Restored the backup") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, nil, "audit", "verify", "--data", restored); code != exitOK || !strings.Contains(out, "Audit log OK") {
		t.Fatalf("audit verify of the restored copy: exit %d\n%s%s", code, out, errOut)
	}

	bad := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no --to", []string{"backup", "--data", data}, exitUsage, "--to DIR is required"},
		{"backup over a backup", []string{"backup", "--data", data, "--to", bk}, exitError, "already holds files"},
		{"backup of nothing", []string{"backup", "--data", filepath.Join(dir, "nope"), "--to", filepath.Join(dir, "b2")}, exitError, "does not exist"},
		{"no --from", []string{"restore", "--data", filepath.Join(dir, "r2")}, exitUsage, "--from DIR is required"},
		{"restore from nowhere", []string{"restore", "--from", filepath.Join(dir, "nope"), "--data", filepath.Join(dir, "r2")}, exitError, "does not exist"},
		{"restore a data directory", []string{"restore", "--from", data, "--data", filepath.Join(dir, "r2")}, exitError, "is not a Portico backup"},
		{"restore over data", []string{"restore", "--from", bk, "--data", restored}, exitError, "give --force"},
	}
	for _, c := range bad {
		code, out, errOut := cli(t, nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "panic") {
			t.Errorf("%s: exit %d, want %d saying %q\n%s%s", c.name, code, c.code, c.want, out, errOut)
		}
	}

	// The restored copy serves: Beto signs in and sees his application.
	base, _ := startDemoApp(t, restored)
	beto := signInClient(t, base, "beto.ciudadano@example.com", false)
	res, body := getBody(t, beto, base+"/applications/"+kase.ID+"?lang=en")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, kase.Reference) {
		t.Errorf("Beto's application in the restored copy: %d", res.StatusCode)
	}
}
