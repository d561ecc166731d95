// Package bench holds Portico's performance benchmarks. Every benchmark here
// measures Portico beside a baseline taken in the same run: a bare net/http
// server on the same machine, driven by the same client over real loopback
// TCP. Absolute numbers on a shared machine are noise; the ratio between the
// two is the result. See docs/performance.md for the numbers and how to
// reproduce them.
//
//	go test -run '^$' -bench . -benchtime 3s -count 5 ./bench/
//
// Without -bench nothing here runs, so `go test ./bench/` stays fast.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// parallelism multiplies GOMAXPROCS to give the number of concurrent client
// goroutines in RunParallel (b.SetParallelism). On the 2-core reference
// machine that is 8 requests in flight, all over kept-alive connections.
const parallelism = 4

// BenchmarkHomePage compares GET / on Portico (middleware chain, i18n, the
// USWDS layout template; no database read) with a bare net/http hello-world
// and with a bare net/http server answering the same bytes as Portico's home
// page (so the cost of moving a ~page-sized body is separated from the cost
// of producing it).
func BenchmarkHomePage(b *testing.B) {
	portico := startPortico(b)
	page := fetch(b, portico+"/")
	bare := startBare(b, []byte("Hello, world!\n"), "text/plain; charset=utf-8")
	static := startBare(b, page, "text/html; charset=utf-8")
	b.Run("server=portico", func(b *testing.B) { drive(b, portico+"/") })
	b.Run("server=bare-net-http", func(b *testing.B) { drive(b, bare+"/") })
	b.Run("server=bare-net-http-same-bytes", func(b *testing.B) { drive(b, static+"/") })
}

// BenchmarkLookupPage compares the ZIP lookup, which reads SQLite (the ZIP,
// each jurisdiction up the tree, every agency) and renders a results page,
// with a bare net/http hello-world.
func BenchmarkLookupPage(b *testing.B) {
	portico := startPortico(b)
	bare := startBare(b, []byte("Hello, world!\n"), "text/plain; charset=utf-8")
	b.Run("server=portico", func(b *testing.B) { drive(b, portico+"/government/lookup?zip=70101") })
	b.Run("server=bare-net-http", func(b *testing.B) { drive(b, bare+"/government/lookup?zip=70101") })
}

// BenchmarkHealthz compares /healthz (middleware chain plus a small JSON
// body, no template, no database) with a bare net/http hello-world: the
// floor of Portico's per-request overhead.
func BenchmarkHealthz(b *testing.B) {
	portico := startPortico(b)
	bare := startBare(b, []byte("Hello, world!\n"), "text/plain; charset=utf-8")
	b.Run("server=portico", func(b *testing.B) { drive(b, portico+"/healthz") })
	b.Run("server=bare-net-http", func(b *testing.B) { drive(b, bare+"/healthz") })
}

// startPortico runs the real application as `portico demo` would: SQLite
// in a temporary directory, migrations applied, the demo jurisdiction
// seeded, background jobs working, listening on a loopback port. Logs are
// discarded. It returns the base URL; the app stops when b ends.
func startPortico(b *testing.B) string {
	b.Helper()
	cfg := config.Config{
		Addr:     "127.0.0.1:0",
		DataDir:  b.TempDir(),
		LogLevel: slog.LevelInfo,
		Role:     "all",
	}
	if err := cfg.Finish(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Work: true, Listen: true})
	if err != nil {
		b.Fatal(err)
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

// startBare runs the baseline: a plain net/http server with no middleware
// that answers every request with body. It returns the base URL.
func startBare(b *testing.B, body []byte, contentType string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Write(body)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// newClient returns a keep-alive client that holds enough idle connections
// for every benchmark goroutine (the default of 2 per host would make most
// requests open a new TCP connection).
func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: 30 * time.Second,
	}
}

// fetch GETs url once and returns the body, failing b unless it is a 200.
func fetch(b *testing.B, url string) []byte { return fetchWith(b, url, nil) }

// fetchWith is fetch with request headers.
func fetchWith(b *testing.B, url string, header http.Header) []byte {
	b.Helper()
	c := newClient(1)
	defer c.CloseIdleConnections()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return body
}

// drive GETs url b.N times from parallel goroutines over keep-alive
// loopback connections, checking every status and reading every body to
// the end. Besides ns/op it reports req/s and the p50 and p99 latency
// in milliseconds, from every request's own duration.
func drive(b *testing.B, url string) { driveWith(b, url, nil) }

// driveWith is drive with request headers (Accept-Encoding, say). It also
// reports the body bytes each response carried on the wire (body-B/op).
func driveWith(b *testing.B, url string, header http.Header) { driveMeasured(b, url, header, nil) }

// driveMeasured is driveWith that also reports proxy-cpu-us/op: the CPU
// time serverCPU says the server's own processes used over the timed
// loop, per request (nil: not reported). It is the server's cost per
// request apart from the client and the upstream that share the machine.
func driveMeasured(b *testing.B, url string, header http.Header, serverCPU func() (time.Duration, error)) {
	b.SetParallelism(parallelism)
	c := newClient(parallelism * 64)
	defer c.CloseIdleConnections()

	// One warm request opens a connection and fails fast on a bad URL.
	fetchWith(b, url, header)

	lat := make([]time.Duration, b.N) // each iteration writes its own slot
	var next, bytes atomic.Int64
	var failure atomic.Pointer[string]
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		failure.CompareAndSwap(nil, &msg)
	}

	b.ReportAllocs()
	var cpu0 time.Duration
	if serverCPU != nil {
		var err error
		if cpu0, err = serverCPU(); err != nil {
			b.Logf("the server's CPU time is not reported: %v", err) // no /proc: not Linux
			serverCPU = nil
		}
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			req, err := http.NewRequest("GET", url, nil)
			if err != nil {
				fail("GET %s: %v", url, err)
				return
			}
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := c.Do(req)
			if err != nil {
				fail("GET %s: %v", url, err)
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			bytes.Add(n)
			resp.Body.Close()
			d := time.Since(t0)
			if err != nil {
				fail("GET %s: reading body: %v", url, err)
				return
			}
			if resp.StatusCode != http.StatusOK {
				fail("GET %s: status %d", url, resp.StatusCode)
				return
			}
			lat[next.Add(1)-1] = d
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if msg := failure.Load(); msg != nil {
		b.Fatal(*msg)
	}
	if serverCPU != nil {
		cpu1, err := serverCPU()
		if err != nil {
			b.Fatalf("the server's CPU time: %v", err)
		}
		if n := next.Load(); n > 0 {
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(n), "proxy-cpu-us/op")
		}
	}

	n := int(next.Load())
	done := lat[:n]
	slices.Sort(done)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	if header != nil && n > 0 {
		b.ReportMetric(float64(bytes.Load())/float64(n), "body-B/op")
	}
	b.ReportMetric(ms(percentile(done, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(done, 0.99)), "p99-ms")
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
