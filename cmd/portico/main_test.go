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

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
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

var urlPattern = regexp.MustCompile(`running at (http://[^/\s]+)/`)

// startDemoApp boots the whole program as `portico demo --addr
// 127.0.0.1:0` and returns its base URL and the running App, which serve
// hands over through the context (startedHookKey), so a test can act as a
// block inside the program would (send an email, for example).
func startDemoApp(t *testing.T, dataDir string) (string, *app.App) {
	t.Helper()
	started := make(chan *app.App, 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), startedHookKey{}, func(a *app.App) { started <- a }))
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
			return m[1], <-started
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d before serving:\n%s\n%s", code, stdout, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("demo printed no URL:\n%s\n%s", stdout, stderr)
	return "", nil
}

// sendEmail sends e through the running program's notification block, as
// a block would: in a transaction of its own.
func sendEmail(t *testing.T, a *app.App, e notify.Email) string {
	t.Helper()
	var id string
	err := a.DB.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		id, err = a.Notify.SendEmail(context.Background(), tx, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitNotification waits until notification id reaches a final status.
func waitNotification(t *testing.T, a *app.App, id string) notify.Notification {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := a.Notify.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if n.Status.Final() {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s still %s after 30s: %s", id, n.Status, n.LastError)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	base, a := startDemoApp(t, data)

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
		{"event log gauges", "/metrics", nil, 200, "portico_event_log_head "},
		{"dev mailbox", "/dev/mailbox", nil, 200, "Development mailbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := get(t, base+tt.path, tt.headers...)
			if status != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("GET %s = %d, want %d containing %q:\n%.500s", tt.path, status, tt.status, tt.contains, body)
			}
		})
	}

	// With --addr 127.0.0.1:0 the public URL, and so the OpenID issuer,
	// carries the port actually bound, never ":0".
	_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
	if strings.HasSuffix(a.Config.PublicURL, ":0") || !strings.HasSuffix(a.Config.PublicURL, ":"+port) {
		t.Fatalf("public URL %q does not carry the bound port %s", a.Config.PublicURL, port)
	}
	if status, _, body := get(t, base+"/.well-known/openid-configuration"); status != 200 || !strings.Contains(body, `"issuer":"`+a.Config.PublicURL+`"`) {
		t.Fatalf("discovery = %d, want issuer %q:\n%.400s", status, a.Config.PublicURL, body)
	}

	// Demo email travels over SMTP to the development mailbox, where a
	// person can read it and follow its link.
	id := sendEmail(t, a, notify.Email{To: "ada@example.com", Subject: "Confirm your email", Text: "Confirm: " + base + "/government?lang=en\n"})
	if n := waitNotification(t, a, id); n.Status != notify.StatusDelivered {
		t.Fatalf("demo email ended %s: %s", n.Status, n.LastError)
	}
	_, _, list := get(t, base+"/dev/mailbox")
	// The demo's own messages (its payments' receipts) are listed too:
	// follow the one sent here.
	m := regexp.MustCompile(`href="(/dev/mailbox/[0-9a-f-]{36})">Confirm your email<`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("mailbox does not list the message:\n%s", list)
	}
	if status, _, page := get(t, base+m[1]); status != 200 || !strings.Contains(page, `<a class="usa-link" href="`+base+`/government?lang=en">`) {
		t.Fatalf("message page %d lacks the link:\n%s", status, page)
	}

	// The operator's tools work on the running demo's data.
	env := map[string]string{"PORTICO_DATA": data}
	// The demo published the example services.
	if code, out, errOut := cli(t, env, "service", "list", "--json"); code != 0 || !strings.Contains(out, `"vehicle-registration-renewal"`) || !strings.Contains(out, `"baker-dog-licence"`) {
		t.Fatalf("service list = %d\n%s\n%s", code, out, errOut)
	}
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
	// 10 jurisdictions, 13 agencies and the demo people were seeded, each audited.
	if !rep.OK || rep.Entries < 23 || rep.Checkpoints < 1 {
		t.Fatalf("audit verify report = %+v", rep)
	}

	// Tamper with the log behind Portico's back: verify must fail and
	// name the entry.
	// The demo is still running and its jobs write: wait for the lock
	// rather than fail.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "portico.db")+"?_pragma=busy_timeout(10000)")
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
		{"serve mail flags", []string{"serve", "--help"}, exitOK, "-dev-mailbox", ""},
		{"bad smtp url", []string{"serve", "--public-url", "https://services.example.gov", "--smtp-url", "http://mail.example.gov"}, exitUsage, "", `--smtp-url: SMTP URL scheme "http" is not supported`},
		{"smtp password not echoed", []string{"serve", "--public-url", "https://services.example.gov", "--smtp-url", "smtp://u:hunter22@mail.example.gov/x"}, exitUsage, "", `"smtp://u:xxxxx@mail.example.gov/x" must not have a path`},
		{"bad sms url", []string{"serve", "--sms-url", "http://AC1:t0ken@api.twilio.com"}, exitUsage, "", `--sms-url: SMS URL scheme "http" is not supported`},
		{"sms url without sender", []string{"serve", "--sms-url", "twilio://AC1:t0ken@api.twilio.com"}, exitUsage, "", "from=+1"},
		{"serve notify flags", []string{"serve", "--help"}, exitOK, "-notify-rate-limit", ""},
		{"bad mail from", []string{"serve", "--mail-from", "nobody"}, exitUsage, "", `--mail-from "nobody" is not an email address`},
		{"state", []string{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "State of Ex", "--json"}, exitOK, `"id": "ex"`, ""},
		{"county", []string{"jurisdiction", "create", "--id", "ex-county", "--kind", "county", "--name", "Ex County", "--parent", "ex"}, exitOK, "Created county ex-county", ""},
		{"city", []string{"jurisdiction", "create", "--id", "ex-city", "--kind", "city", "--name", "Ex City", "--parent", "ex-county", "--zip", "70101,70102", "--zip", "70103"}, exitOK, "Created city", ""},
		{"missing flags", []string{"jurisdiction", "create", "--id", "x"}, exitUsage, "", "--id, --kind and --name are required"},
		{"bad kind", []string{"jurisdiction", "create", "--id", "x", "--kind", "empire", "--name", "X"}, exitError, "", `kind "empire" must be one of`},
		{"duplicate", []string{"jurisdiction", "create", "--id", "ex", "--kind", "state", "--name", "X"}, exitError, "", `jurisdiction "ex" already exists`},
		{"bad zip", []string{"jurisdiction", "create", "--id", "y", "--kind", "city", "--name", "Y", "--parent", "ex", "--zip", "1"}, exitError, "", "five digits"},
		{"list", []string{"jurisdiction", "list"}, exitOK, "ex-city    city    ex-county  Ex City      70101,70102,70103", ""},
		{"list json", []string{"jurisdiction", "list", "--json"}, exitOK, `"parent_id": "ex-county"`, ""},
		{"time zone", []string{"jurisdiction", "time-zone", "--id", "ex", "--time-zone", "America/Chicago"}, exitOK, "now shows and sets dates in America/Chicago", ""},
		{"time zone inherited", []string{"jurisdiction", "list"}, exitOK, "America/Chicago", ""},
		{"bad time zone", []string{"jurisdiction", "time-zone", "--id", "ex", "--time-zone", "Mars/Base"}, exitError, "", `time zone "Mars/Base" must be an IANA name`},
		{"time zone unknown jurisdiction", []string{"jurisdiction", "time-zone", "--id", "nope", "--time-zone", "UTC"}, exitError, "", `jurisdiction "nope" does not exist`},
		{"time zone missing id", []string{"jurisdiction", "time-zone"}, exitUsage, "", "--id is required"},
		{"create with bad zone", []string{"jurisdiction", "create", "--id", "tz", "--kind", "city", "--name", "TZ", "--parent", "ex", "--time-zone", "Nowhere"}, exitError, "", "IANA"},
		{"agency", []string{"agency", "create", "--id", "ex-dmv", "--jurisdiction", "ex", "--name", "Ex DMV", "--json"}, exitOK, `"jurisdiction_id": "ex"`, ""},
		{"agency missing jurisdiction", []string{"agency", "create", "--id", "z", "--jurisdiction", "nope", "--name", "Z"}, exitError, "", `jurisdiction "nope" does not exist`},
		{"agency list", []string{"agency", "list", "--jurisdiction", "ex", "--json"}, exitOK, `"id": "ex-dmv"`, ""},
		{"agency list unknown", []string{"agency", "list", "--jurisdiction", "nope"}, exitError, "", `jurisdiction "nope" does not exist`},
		{"agency contact", []string{"agency", "contact", "--id", "ex-dmv", "--address", `1 Main St\nEx City, EX 70101`, "--hours", "Mon-Fri 8-5", "--json"}, exitOK, `"address": "1 Main St\nEx City, EX 70101"`, ""},
		{"agency contact bad website", []string{"agency", "contact", "--id", "ex-dmv", "--website", "ex.example.gov"}, exitError, "", `website "ex.example.gov" must be an https:// URL`},
		{"agency contact unknown", []string{"agency", "contact", "--id", "nope"}, exitError, "", `agency "nope" does not exist`},
		{"agency contact missing id", []string{"agency", "contact"}, exitUsage, "", "--id is required"},
		{"audit list", []string{"audit", "list", "--subject", "agency:ex-dmv", "--json"}, exitOK, `"actor": "operator:cli"`, ""},
		{"audit list bad limit", []string{"audit", "list", "--limit", "0"}, exitUsage, "", "--limit"},
		{"audit verify", []string{"audit", "verify"}, exitOK, "Audit log OK: 6 entries", ""}, // 3 jurisdictions, 1 time zone, 1 agency, 1 contact
		{"jobs stats", []string{"jobs", "stats", "--json"}, exitOK, "[", ""},
		{"user add", []string{"user", "add", "--email", "sam@ex-dmv.example.gov", "--name", "Sam Staff", "--agency", "ex-dmv", "--role", "caseworker", "--json"}, exitOK, `"role": "caseworker"`, ""},
		{"user add second role", []string{"user", "add", "--email", "SAM@ex-dmv.example.gov", "--agency", "ex-dmv", "--role", "auditor"}, exitOK, "auditor in ex-dmv, caseworker in ex-dmv", ""},
		{"user add platform admin", []string{"user", "add", "--email", "root@example.gov", "--name", "Root", "--platform-admin"}, exitOK, "platform_admin", ""},
		{"user add bad role", []string{"user", "add", "--email", "x@example.gov", "--name", "X", "--agency", "ex-dmv", "--role", "king"}, exitUsage, "", `role "king" must be one of`},
		{"user add role without agency", []string{"user", "add", "--email", "x@example.gov", "--name", "X", "--role", "finance"}, exitError, "", "give both --agency and --role"},
		{"user add bad email", []string{"user", "add", "--email", "nope", "--name", "X"}, exitError, "", `"nope" is not an email address`},
		{"user add unknown agency", []string{"user", "add", "--email", "y@example.gov", "--name", "Y", "--agency", "atlantis", "--role", "finance"}, exitError, "", `agency "atlantis" does not exist`},
		{"user add no email", []string{"user", "add"}, exitUsage, "", "--email is required"},
		{"user add totp to a known account", []string{"user", "add", "--email", "sam@ex-dmv.example.gov", "--totp"}, exitOK, "Authenticator app enrolled", ""},
		{"user add totp json", []string{"user", "add", "--email", "root@example.gov", "--totp", "--json"}, exitOK, `"otpauth_url": "otpauth://totp/Portico:root@example.gov?`, ""},
		{"user add totp unknown account", []string{"user", "add", "--email", "nobody@example.gov", "--totp"}, exitError, "", "a name (at most 200 characters) is required"},
		{"user list", []string{"user", "list"}, exitOK, "sam@ex-dmv.example.gov", ""},
		{"user list second factor", []string{"user", "list"}, exitOK, "Sam Staff  yes", ""},
		{"user list json", []string{"user", "list", "--kind", "all", "--json"}, exitOK, `"platform_admin": true`, ""},
		{"user list bad kind", []string{"user", "list", "--kind", "robots"}, exitUsage, "", "--kind must be"},
		{"notify help", []string{"notify"}, exitUsage, "template", ""},
		{"notify key create", []string{"notify", "key", "create", "--agency", "ex-dmv", "--name", "case system", "--json"}, exitOK, `"key": "case system-`, ""},
		{"notify key create team", []string{"notify", "key", "create", "--agency", "ex-dmv", "--name", "staff", "--type", "team"}, exitOK, "Key (shown only now", ""},
		{"notify key create bad type", []string{"notify", "key", "create", "--agency", "ex-dmv", "--name", "x", "--type", "gold"}, exitError, "", `key type "gold" must be live, team or test`},
		{"notify key create unknown agency", []string{"notify", "key", "create", "--agency", "atlantis", "--name", "x"}, exitError, "", `agency "atlantis" does not exist`},
		{"notify key create no name", []string{"notify", "key", "create", "--agency", "ex-dmv"}, exitUsage, "", "--agency and --name are required"},
		{"notify key list", []string{"notify", "key", "list", "--agency", "ex-dmv"}, exitOK, "case system  live", ""},
		{"notify key list json has no secret", []string{"notify", "key", "list", "--agency", "ex-dmv", "--json"}, exitOK, `"key_type": "team"`, ""},
		{"notify key revoke unknown", []string{"notify", "key", "revoke", "--agency", "ex-dmv", "--id", "nope"}, exitError, "", `no active key "nope"`},
		{"notify template create email", []string{"notify", "template", "create", "--agency", "ex-dmv", "--type", "email", "--name", "Renewal", "--subject", "Renew ((plate))", "--body", "Dear ((name)), renew by ((date)).", "--body-es", "Estimado/a ((name)):", "--subject-es", "Renueve ((plate))", "--json"}, exitOK, `"version": 1`, ""},
		{"notify template create sms", []string{"notify", "template", "create", "--agency", "ex-dmv", "--type", "sms", "--name", "Code", "--body", "Your code is ((code))"}, exitOK, "Template id: ", ""},
		{"notify template create no subject", []string{"notify", "template", "create", "--agency", "ex-dmv", "--type", "email", "--name", "X", "--body", "B"}, exitError, "", "subject must not be empty"},
		{"notify template create sms subject", []string{"notify", "template", "create", "--agency", "ex-dmv", "--type", "sms", "--name", "X", "--subject", "S", "--body", "B"}, exitError, "", "Text message templates have no subject"},
		{"notify template create bad type", []string{"notify", "template", "create", "--agency", "ex-dmv", "--type", "letter", "--name", "X", "--body", "B"}, exitError, "", `template type "letter" must be email or sms`},
		{"notify template create missing", []string{"notify", "template", "create", "--agency", "ex-dmv"}, exitUsage, "", "--agency, --type, --name and --body are required"},
		{"notify template list", []string{"notify", "template", "list", "--agency", "ex-dmv"}, exitOK, "email  1        Renewal  yes", ""},
		{"notify template list sms json", []string{"notify", "template", "list", "--agency", "ex-dmv", "--type", "sms", "--json"}, exitOK, `"name": "Code"`, ""},
		{"notify template list bad type", []string{"notify", "template", "list", "--agency", "ex-dmv", "--type", "fax"}, exitUsage, "", "--type must be email or sms"},
		{"notify template update unknown", []string{"notify", "template", "update", "--id", "nope", "--name", "X", "--body", "B"}, exitError, "", `template "nope" version 0 does not exist`},
		{"notify callback needs token", []string{"notify", "callback", "--agency", "ex-dmv", "--url", "https://cases.ex.gov/receipts"}, exitUsage, "", "PORTICO_NOTIFY_CALLBACK_TOKEN"},
		{"notify callback off", []string{"notify", "callback", "--agency", "ex-dmv", "--off"}, exitOK, "are off", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("portico %s\n exit %d (want %d)\n stdout: %s\n stderr: %s\n want stdout containing %q, stderr containing %q",
					strings.Join(tt.args, " "), code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
			if n := strings.Count(out, "Usage:"); n > 1 {
				t.Errorf("portico %s printed its usage %d times", strings.Join(tt.args, " "), n)
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

// startServeApp boots `portico serve` on a loopback port with args added
// and returns its base URL and the running App.
func startServeApp(t *testing.T, args ...string) (string, *app.App) {
	t.Helper()
	started := make(chan *app.App, 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), startedHookKey{}, func(a *app.App) { started <- a }))
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s")
		}
	})
	select {
	case a := <-started:
		return a.URL(), a
	case code := <-done:
		t.Fatalf("serve exited %d before serving:\n%s", code, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	return "", nil
}

// TestServeMail: serve without --smtp-url says so and fails deliveries
// clearly; the development mailbox exists only when asked for.
func TestServeMail(t *testing.T) {
	t.Run("no SMTP server", func(t *testing.T) {
		base, a := startServeApp(t)
		if status, _, _ := get(t, base+"/dev/mailbox"); status != 404 {
			t.Errorf("/dev/mailbox without --dev-mailbox: %d, want 404", status)
		}
		n := waitNotification(t, a, sendEmail(t, a, notify.Email{To: "ada@example.com", Subject: "Hello", Text: "x"}))
		if n.Status != notify.StatusTechnicalFailure || !strings.Contains(n.LastError, "no SMTP server configured") {
			t.Fatalf("without --smtp-url: %s %q", n.Status, n.LastError)
		}
	})
	t.Run("dev mailbox", func(t *testing.T) {
		base, a := startServeApp(t, "--dev-mailbox", "--mail-from", "Example <hello@example.gov>")
		n := waitNotification(t, a, sendEmail(t, a, notify.Email{To: "ada@example.com", Subject: "Hello", Text: "x"}))
		if n.Status != notify.StatusDelivered {
			t.Fatalf("with --dev-mailbox: %s %q", n.Status, n.LastError)
		}
		if status, _, body := get(t, base+"/dev/mailbox"); status != 200 || !strings.Contains(body, "ada@example.com") {
			t.Errorf("/dev/mailbox: %d\n%.2000s", status, body)
		}
		if a.Notify.MessageID(n.ID) != n.ID+"@example.gov" {
			t.Errorf("Message-ID %q does not use the --mail-from domain", a.Notify.MessageID(n.ID))
		}
	})
}

// TestServiceCLI runs `portico service` against a database seeded with the
// demo jurisdiction.
func TestServiceCLI(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PORTICO_DATA": data}
	if code, _, errOut := cli(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	db, err := storage.Open(context.Background(), "sqlite://"+filepath.Join(data, "portico.db"))
	if err != nil {
		t.Fatal(err)
	}
	clock := platform.SystemClock{}
	ten, err := tenancy.New(db, audit.New(db, clock, nil), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ex := func(name string) string { return filepath.Join("..", "..", "examples", "services", name) }
	bad := func(name string) string {
		return filepath.Join("..", "..", "internal", "catalog", "manifest", "testdata", "bad", name)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"help", []string{"service", "--help"}, exitOK, "publish", ""},
		{"validate no files", []string{"service", "validate"}, exitUsage, "", "name at least one manifest file"},
		{"validate examples", []string{"service", "validate", ex("adams-dog-licence.yaml"), ex("baker-dog-licence.yaml"), ex("report-a-pothole.yaml")}, exitOK, "3 manifest(s) valid", ""},
		{"validate bad", []string{"service", "validate", bad("workflow-errors.yaml")}, exitError, "workflow-errors.yaml:12: workflow.initial: there is no state \"start\"", "12 problem(s)"},
		{"validate bad json", []string{"service", "validate", "--json", bad("yaml-syntax.yaml")}, exitError, `"line": 2`, ""},
		{"validate call_plugin", []string{"service", "validate", bad("call-plugin.yaml")}, exitError, `call-plugin.yaml:48: workflow.states.submitted.on_enter[1].call_plugin: insurance-check/verify_policy: there is no plug-in "insurance-check"`, "1 problem(s)"},
		{"publish call_plugin", []string{"service", "publish", bad("call-plugin.yaml"), "--agency", "dmv"}, exitError, `there is no plug-in "insurance-check"`, "nothing was published"},
		{"validate flags after files", []string{"service", "validate", ex("report-a-pothole.yaml"), "--json"}, exitOK, "[]", ""},
		{"validate missing file", []string{"service", "validate", "nope.yaml"}, exitError, "nope.yaml:0: cannot read the file", ""},
		{"extend alone", []string{"service", "validate", ex("baker-dog-licence.yaml")}, exitError, "is not among the files given", ""},
		{"publish without agency", []string{"service", "publish", ex("adams-dog-licence.yaml")}, exitUsage, "", "--agency"},
		{"publish extend first", []string{"service", "publish", ex("baker-dog-licence.yaml"), "--agency", "baker-clerk"}, exitError, "adams-dog-licence version 1 is not published", "nothing was published"},
		{"publish", []string{"service", "publish", ex("adams-dog-licence.yaml"), "--agency", "adams-clerk", "--json"}, exitOK, `"version": 1`, ""},
		{"publish again", []string{"service", "publish", "--agency", "adams-clerk", ex("adams-dog-licence.yaml")}, exitError, "", "already published"},
		{"publish wrong agency", []string{"service", "publish", ex("report-a-pothole.yaml"), "--agency", "dmv", "--json"}, exitError, `is being published for \"dmv\"`, ""},
		{"publish extend", []string{"service", "publish", ex("baker-dog-licence.yaml"), "--agency", "baker-clerk"}, exitOK, "Published baker-dog-licence version 1 for baker-clerk", ""},
		{"list", []string{"service", "list"}, exitOK, "baker-dog-licence  1        baker-clerk", ""},
		{"list agency json", []string{"service", "list", "--agency", "adams-clerk", "--json"}, exitOK, `"id": "adams-dog-licence"`, ""},
		{"audit", []string{"audit", "list", "--subject", "service:baker-dog-licence@1", "--json"}, exitOK, `"action": "service.publish"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout containing %q, stderr containing %q", code, tt.code, out, errOut, tt.stdout, tt.stderr)
			}
		})
	}
}
