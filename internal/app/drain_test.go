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

// A draining process refuses new connections, so a load balancer sends the
// request elsewhere, but keeps serving the connections it has, each closed
// after its response and with /readyz failing: no pooled keep-alive
// connection is cut while a request is on its way. Stop after a drain
// reports no error.
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
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			a.Stop(context.Background())
		}
	})
	get := func(c *http.Client, path string) (*http.Response, error) {
		resp, err := c.Get(a.URL() + path)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	// Two clients, each with a keep-alive connection open before the drain.
	pooled := []*http.Client{{Transport: &http.Transport{}}, {Transport: &http.Transport{}}}
	for _, c := range pooled {
		if resp, err := get(c, "/healthz"); err != nil || resp.Close {
			t.Fatalf("before the drain: %v (closes its connection: %v)", err, resp != nil && resp.Close)
		}
	}
	a.Drain()
	for i, tc := range []struct {
		path string
		want int
	}{
		{"/readyz", http.StatusServiceUnavailable},
		{"/healthz", http.StatusOK},
	} {
		resp, err := get(pooled[i], tc.path)
		if err != nil {
			t.Fatalf("%s on a connection open before the drain: %v", tc.path, err)
		}
		if resp.StatusCode != tc.want || !resp.Close {
			t.Errorf("%s while draining: %d (closes its connection: %v), want %d and closed", tc.path, resp.StatusCode, resp.Close, tc.want)
		}
	}
	if _, err := get(&http.Client{Transport: &http.Transport{}}, "/healthz"); err == nil {
		t.Error("a new connection was accepted while draining")
	}
	stopped = true
	if err := a.Stop(context.Background()); err != nil {
		t.Errorf("Stop after Drain: %v", err)
	}
}
