package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cli runs the portico command in-process, as a person at a shell would.
func cli(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

var urlPattern = regexp.MustCompile(`running at (http://[0-9.:]+)/`)

// startDemo boots the whole program as `portico demo --addr 127.0.0.1:0`
// and returns its base URL.
func startDemo(t *testing.T, dataDir string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--data", dataDir}, func(string) string { return "" }, strings.NewReader(""), stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo exited %d:\n%s", code, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop within 30s")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlPattern.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d before serving:\n%s\n%s", code, stdout, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("demo printed no URL:\n%s\n%s", stdout, stderr)
	return ""
}

func get(t *testing.T, url string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestWholeProgram boots `portico demo` on :0 with a temporary data
// directory and walks what an operator and a visitor would.
func TestWholeProgram(t *testing.T) {
	data := t.TempDir()
	base := startDemo(t, data)

	tests := []struct {
		name, path string
		headers    []string
		status     int
		contains   string
	}{
		{"health", "/healthz", nil, 200, `"ok"`},
		{"ready", "/readyz", nil, 200, `"ready"`},
		{"home in English", "/", []string{"Accept-Language", "en-US"}, 200, `<html lang="en">`},
		{"home in Spanish", "/", []string{"Accept-Language", "es-MX,es;q=0.9"}, 200, "Todos los servicios del gobierno en un solo lugar"},
		{"lookup seeded ZIP", "/government/lookup?zip=70301", nil, 200, "City of Cedar Falls"},
		{"asset", "/static/uswds/css/uswds.min.css", nil, 200, "usa-banner"},
		{"not found", "/nowhere", nil, 404, "Page not found"},
		{"metrics", "/metrics", nil, 200, "portico_http_request_duration_seconds_bucket"},
		{"job gauges", "/metrics", nil, 200, `portico_jobs{state="discarded"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := get(t, base+tt.path, tt.headers...)
			if status != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("GET %s = %d, want %d containing %q:\n%.500s", tt.path, status, tt.status, tt.contains, body)
			}
		})
	}

	// The operator's tools work on the running demo's data.
	env := map[string]string{"PORTICO_DATA": data}
	if code, _, errOut := cli(t, env, "audit", "checkpoint", "--json"); code != 0 {
		t.Fatalf("audit checkpoint = %d: %s", code, errOut)
	}
	code, out, errOut := cli(t, env, "audit", "verify", "--json")
	if code != 0 {
		t.Fatalf("audit verify = %d: %s %s", code, out, errOut)
	}
	var rep struct {
		OK          bool  `json:"ok"`
		Entries     int64 `json:"entries"`
		Checkpoints int   `json:"checkpoints"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("audit verify --json: %v\n%s", err, out)
	}
	// 10 jurisdictions and 13 agencies were seeded, each audited.
	if !rep.OK || rep.Entries != 23 || rep.Checkpoints < 1 {
		t.Fatalf("audit verify report = %+v", rep)
	}

	// Tamper with the log behind Portico's back: verify must fail and
	// name the entry.
	db, err := sql.Open("sqlite", filepath.Join(data, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_entries SET actor = 'operator:mallory' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cli(t, env, "audit", "verify")
	if code == 0 || !strings.Contains(out, "FAILED at entry 7") || !strings.Contains(errOut, "entry 7") {
		t.Fatalf("audit verify after tampering = %d\n%s\n%s", code, out, errOut)
	}
}

func TestCLI(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	if code, _, errOut := cli(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"no command", nil, exitUsage, "Usage: portico <command>", ""},
		{"help", []string{"--help"}, exitOK, "jurisdiction", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"group without sub", []string{"audit"}, exitUsage, "verify", ""},
		{"subcommand help", []string{"jurisdiction", "create", "--help"}, exitOK, "-kind", ""},
		{"demo help", []string{"demo", "--help"}, exitOK, "-addr", ""},
		{"serve help", []string{"serve", "--help"}, exitOK, "-db", ""},
		{"migrate help", []string{"migrate", "-h"}, exitOK, "-json", ""},
		{"unknown flag", []string{"version", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus"},
		{"stray argument", []string{"version", "extra"}, exitUsage, "", `unexpected argument "extra"`},
		{"version", []string{"version"}, exitOK, "portico dev", ""},
		{"version json", []string{"version", "--json"}, exitOK, `"version": "dev"`, ""},
		{"migrate again", []string{"migrate", "--json"}, exitOK, `"applied": []`, ""},
		{"bad db url", []string{"migrate", "--db", "mysql://x"}, exitError, "", "unsupported database scheme"},
		{"bad addr", []string{"serve", "--addr", "nonsense"}, exitUsage, "", `--addr "nonsense" is not host:port`},
		{"bad public url", []string{"serve", "--public-url", "ftp://x"}, exitUsage, "", "--public-url"},
		{"bad role", []string{"serve", "--role", "boss"}, exitUsage, "", "--role"},
		{"state", []string{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "State of Ex", "--json"}, exitOK, `"id": "ex"`, ""},
		{"county", []string{"jurisdiction", "create", "--id", "ex-county", "--kind", "county", "--name", "Ex County", "--parent", "ex"}, exitOK, "Created county ex-county", ""},
		{"city", []string{"jurisdiction", "create", "--id", "ex-city", "--kind", "city", "--name", "Ex City", "--parent", "ex-county", "--zip", "70101,70102", "--zip", "70103"}, exitOK, "Created city", ""},
		{"missing flags", []string{"jurisdiction", "create", "--id", "x"}, exitUsage, "", "--id, --kind and --name are required"},
		{"bad kind", []string{"jurisdiction", "create", "--id", "x", "--kind", "empire", "--name", "X"}, exitError, "", `kind "empire" must be one of`},
		{"duplicate", []string{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "X"}, exitError, "", `jurisdiction "ex" already exists`},
		{"bad zip", []string{"jurisdiction", "create", "--id", "y", "--kind", "city", "--name", "Y", "--parent", "ex", "--zip", "1"}, exitError, "", "five digits"},
		{"list", []string{"jurisdiction", "list"}, exitOK, "ex-city    city    ex-county  Ex City      70101,70102,70103", ""},
		{"list json", []string{"jurisdiction", "list", "--json"}, exitOK, `"parent_id": "ex-county"`, ""},
		{"agency", []string{"agency", "create", "--id", "ex-dmv", "--jurisdiction", "ex", "--name", "Ex DMV", "--json"}, exitOK, `"jurisdiction_id": "ex"`, ""},
		{"agency missing jurisdiction", []string{"agency", "create", "--id", "z", "--jurisdiction", "nope", "--name", "Z"}, exitError, "", `jurisdiction "nope" does not exist`},
		{"agency list", []string{"agency", "list", "--jurisdiction", "ex", "--json"}, exitOK, `"id": "ex-dmv"`, ""},
		{"agency list unknown", []string{"agency", "list", "--jurisdiction", "nope"}, exitError, "", `jurisdiction "nope" does not exist`},
		{"audit list", []string{"audit", "list", "--subject", "agency:ex-dmv", "--json"}, exitOK, `"actor": "operator:cli"`, ""},
		{"audit list bad limit", []string{"audit", "list", "--limit", "0"}, exitUsage, "", "--limit"},
		{"audit verify", []string{"audit", "verify"}, exitOK, "Audit log OK: 4 entries", ""},
		{"jobs stats", []string{"jobs", "stats", "--json"}, exitOK, "[", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestAdminCommandsRefuseUnmigratedDatabase(t *testing.T) {
	env := map[string]string{"PORTICO_DATA": t.TempDir()}
	code, _, errOut := cli(t, env, "jurisdiction", "list")
	if code != exitError || !strings.Contains(errOut, "run 'portico migrate' first") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
