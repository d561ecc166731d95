package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// startDemo starts `portico demo` with args and env, waits for its banner
// and returns its URL, the running App and a function that stops it.
func startDemo(t *testing.T, env map[string]string, args ...string) (string, *app.App, func()) {
	t.Helper()
	started := make(chan *app.App, 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), startedHookKey{}, func(a *app.App) { started <- a }))
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"demo", "--addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), stdout, stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo exited %d:\n%s", code, stderr)
			}
		case <-time.After(60 * time.Second):
			t.Error("demo did not stop within 60s")
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if m := urlPattern.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], <-started, stop
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("demo exited %d before serving:\n%s\n%s", code, stdout, stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("demo printed no URL:\n%s\n%s", stdout, stderr)
	return "", nil, nil
}

// TestDemoOnPostgres: `portico demo` takes --db (and PORTICO_DB), seeds
// PostgreSQL, and a second start on the same database adds nothing. A
// process with another data directory's keys is refused (demo and CLI
// commands alike) instead of making new keys; with the right ones, `user
// add --totp` enrols a demo staff account's authenticator app.
func TestDemoOnPostgres(t *testing.T) {
	if os.Getenv(storagetest.PostgresEnv) == "" {
		t.Skipf("needs PostgreSQL: set %s", storagetest.PostgresEnv)
	}
	if testing.Short() {
		t.Skip("seeds the demo twice on PostgreSQL (-short)")
	}
	ctx := context.Background()
	dbURL := storagetest.NewURL(t, storage.Postgres)
	data := t.TempDir()

	counts := func(a *app.App) (users, services int) {
		t.Helper()
		us, err := a.Identity.Users(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		ss, err := a.Catalog.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(us), len(ss)
	}
	u, a, stop := startDemo(t, nil, "--db", dbURL, "--data", data)
	if a.DB.Dialect != storage.Postgres {
		t.Fatalf("demo --db %s ran on %s", dbURL, a.DB.Dialect)
	}
	users, services := counts(a)
	if users < 7 || services < 10 {
		t.Fatalf("seeded %d accounts and %d services", users, services)
	}
	if code, _, _ := get(t, u+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	stop()

	_, a, stop = startDemo(t, map[string]string{"PORTICO_DB": dbURL}, "--data", data)
	if a.DB.Dialect != storage.Postgres {
		t.Fatal("PORTICO_DB was ignored")
	}
	if u2, s2 := counts(a); u2 != users || s2 != services {
		t.Fatalf("second start: %d accounts and %d services, first %d and %d", u2, s2, users, services)
	}
	stop()

	other := t.TempDir()
	for _, args := range [][]string{
		{"demo", "--addr", "127.0.0.1:0", "--db", dbURL, "--data", other},
		{"user", "list", "--db", dbURL, "--data", other},
		{"audit", "verify", "--db", dbURL, "--data", other},
	} {
		code, _, errOut := cli(t, nil, args...)
		if code != exitError || !strings.Contains(errOut, "does not have") || !strings.Contains(errOut, "--data (env PORTICO_DATA)") || !strings.Contains(errOut, "--key-url (env PORTICO_KEY_URL)") {
			t.Fatalf("portico %s with another data directory: exit %d\n%s", args[0], code, errOut)
		}
		if _, err := os.Stat(other + "/keys"); !os.IsNotExist(err) {
			t.Fatalf("portico %s made keys in the wrong data directory", args[0])
		}
	}

	env := map[string]string{"PORTICO_DB": dbURL, "PORTICO_DATA": data}
	if code, out, errOut := cli(t, env, "user", "add", "--email", "casey.dmv@example.gov", "--totp"); code != exitOK || !strings.Contains(out, "Authenticator app enrolled") {
		t.Fatalf("user add --totp: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, env, "audit", "verify"); code != exitOK {
		t.Fatalf("audit verify after two demo starts: exit %d\n%s%s", code, out, errOut)
	}
}
