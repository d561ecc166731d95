package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditVerifyFindsRewrittenLog: someone with write access to the
// database deletes the checkpoint rows and the newest entries and rewinds
// the head, so the chain left behind is consistent. The anchors in
// DATA/audit-anchor still name the deleted checkpoint: `portico audit
// verify` exits 1 and says what it found.
func TestAuditVerifyFindsRewrittenLog(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	steps := [][]string{
		{"migrate"},
		{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "State of Ex"},
		{"agency", "create", "--id", "ex-dmv", "--jurisdiction", "ex", "--name", "Ex DMV"},
		{"agency", "create", "--id", "ex-tax", "--jurisdiction", "ex", "--name", "Ex Tax"},
		{"audit", "checkpoint"},
	}
	for _, args := range steps {
		if code, out, errOut := cli(t, env, args...); code != exitOK {
			t.Fatalf("%v = %d\n%s\n%s", args, code, out, errOut)
		}
	}
	code, out, errOut := cli(t, env, "audit", "verify")
	if code != exitOK || !strings.Contains(out, "3 entries") || !strings.Contains(out, "1 signed checkpoints (1 anchored in file://") {
		t.Fatalf("audit verify of an intact log = %d\n%s\n%s", code, out, errOut)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DELETE FROM audit_checkpoints`,
		`DELETE FROM audit_entries WHERE seq = 3`,
		`UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_entries WHERE seq = 2) WHERE id = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	code, out, errOut = cli(t, env, "audit", "verify")
	if code != exitError {
		t.Fatalf("audit verify of a rewritten log exited %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Audit log FAILED at entry 3: chain 1: the database has fewer checkpoints than the anchor store (0 against 1)",
		"- entry 3 was deleted (the log ends at entry 2, but the anchored checkpoint of entry 3 shows it existed)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "audit log verification FAILED: chain 1: the database has fewer checkpoints than the anchor store") {
		t.Errorf("stderr does not say what was found:\n%s", errOut)
	}

	// The limit is checked like every other flag.
	code, _, errOut = cli(t, env, "audit", "verify", "--max-checkpoint-age", "1s")
	if code != exitUsage || !strings.Contains(errOut, "--max-checkpoint-age 1s must be at least 2m") {
		t.Fatalf("audit verify --max-checkpoint-age 1s = %d: %s", code, errOut)
	}
}
