package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// BenchmarkHomePageTraced measures what OpenTelemetry tracing costs on the
// home page (ADR 62): Portico with traces off (the default: no tracer at
// all), Portico exporting every request's span by OTLP/HTTP to an
// in-process collector that accepts and discards them, and the bare
// net/http hello-world baseline, in the same run.
func BenchmarkHomePageTraced(b *testing.B) {
	var exports, spanBytes atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		exports.Add(1)
		spanBytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(collector.Close)
	off := startPorticoTraced(b, "")
	on := startPorticoTraced(b, collector.URL)
	bare := startBare(b, []byte("Hello, world!\n"), "text/plain; charset=utf-8")
	b.Run("server=portico-traces-off", func(b *testing.B) { drive(b, off+"/") })
	b.Run("server=portico-traces-on", func(b *testing.B) {
		drive(b, on+"/")
		b.ReportMetric(float64(exports.Load()), "exports")
	})
	b.Run("server=bare-net-http", func(b *testing.B) { drive(b, bare+"/") })
	if exports.Load() == 0 {
		// The batcher sends every 5 s or 512 spans; a run that drove
		// fewer requests than that for less time may not have sent any.
		b.Logf("the collector received no export (%d bytes)", spanBytes.Load())
	}
}

// startPorticoTraced is startPortico (http_test.go) with --otel-endpoint.
func startPorticoTraced(b *testing.B, endpoint string) string {
	b.Helper()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), LogLevel: slog.LevelInfo, Role: "all", OTelEndpoint: endpoint}
	if err := cfg.Finish(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Work: true, Listen: true})
	if err != nil {
		b.Fatal(err)
	}
	if endpoint != "" && a.Tracing.Tracer == nil {
		b.Fatal("tracing is off with an endpoint")
	}
	if _, err := demo.Seed(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a.Tenancy); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Stop(sctx); err != nil {
			b.Errorf("stop portico: %v", err)
		}
	})
	return a.URL()
}
