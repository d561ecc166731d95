package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// A draining process still answers, but tells load balancers to go
// elsewhere: /readyz fails and every response closes its connection, so
// no pooled keep-alive connection is cut while a request is on its way.
func TestDrain(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: storagetest.MigratedURL(t, storage.SQLite), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get(a.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		drain     bool
		readyz    int
		closeConn bool
	}{
		{drain: false, readyz: http.StatusOK, closeConn: false},
		{drain: true, readyz: http.StatusServiceUnavailable, closeConn: true},
	} {
		if tc.drain {
			a.Drain()
		}
		if got := get("/readyz").StatusCode; got != tc.readyz {
			t.Errorf("draining %v: /readyz %d, want %d", tc.drain, got, tc.readyz)
		}
		resp := get("/healthz")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("draining %v: /healthz %d: a draining process still serves", tc.drain, resp.StatusCode)
		}
		if resp.Close != tc.closeConn {
			t.Errorf("draining %v: response closes its connection: %v, want %v", tc.drain, resp.Close, tc.closeConn)
		}
	}
}
