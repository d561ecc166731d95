package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// apiKeys is how many API keys the create benchmark spreads its requests
// over: GOV.UK Pay's limit of 15 creates a second is per key, and the
// benchmark measures the server, not the limiter.
const apiKeys = 64

// BenchmarkCheckout measures the citizen's checkout and an agency's
// create through the real program over loopback HTTP, on SQLite as
// `portico demo` runs, beside a bare net/http hello-world in the same
// run:
//
//   - server=bare-net-http: the baseline;
//   - page=pay: GET /pay for Ana, signed in, who owes a property-tax
//     instalment (the demo's obligations): her open cases' fees and
//     obligations read, the page rendered;
//   - api=create: POST /v1/payments with a real API key (Bearer, its
//     SHA-256 looked up), a checkout and its payment written with history,
//     audit entry and event in one transaction, answered 201.
//
// x-baseline is req/s over the baseline's.
//
//	go test -run '^$' -bench Checkout -benchtime 3s -count 3 ./bench/
func BenchmarkCheckout(b *testing.B) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	a := startDemoPeople(b, func(ctx context.Context, a *app.App) error {
		_, err := demo.SeedObligations(ctx, a.DB, a.Identity, a.Reminders)
		return err
	})
	op := platform.Actor{Kind: platform.ActorOperator, ID: "bench"}
	keys := make([]string, apiKeys)
	for i := range keys {
		var err error
		if _, keys[i], err = a.PaymentKeys.Create(ctx, op, "dmv", fmt.Sprintf("bench %d", i), false); err != nil {
			b.Fatal(err)
		}
	}
	cookie := benchSignIn(b, a.URL(), "ana.citizen@example.com")
	if page := fetchWith(b, a.URL()+"/pay", http.Header{"Cookie": {cookie}}); !strings.Contains(string(page), "1,235.50") {
		b.Fatal("GET /pay does not list Ana's property tax ($1,235.50)")
	}
	bare := startBare(b, []byte("Hello, world!\n"), "text/plain; charset=utf-8")

	var baseline float64
	b.Run("server=bare-net-http", func(b *testing.B) {
		baseline = driveHTTP(b, http.StatusOK, func(int64) *http.Request {
			req, _ := http.NewRequest("GET", bare+"/", nil)
			return req
		})
		b.ReportMetric(1, "x-baseline")
	})
	b.Run("server=portico/page=pay", func(b *testing.B) {
		rps := driveHTTP(b, http.StatusOK, func(int64) *http.Request {
			req, _ := http.NewRequest("GET", a.URL()+"/pay", nil)
			req.Header.Set("Cookie", cookie)
			return req
		})
		b.ReportMetric(rps/baseline, "x-baseline")
	})
	b.Run("server=portico/api=create", func(b *testing.B) {
		rps := driveHTTP(b, http.StatusCreated, func(i int64) *http.Request {
			body := fmt.Sprintf(`{"amount": 4500, "reference": "DMV-%09d", "description": "Vehicle registration renewal", "return_url": "https://dmv.example.gov/done"}`, i)
			req, _ := http.NewRequest("POST", a.URL()+"/v1/payments", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+keys[i%apiKeys])
			req.Header.Set("Content-Type", "application/json")
			return req
		})
		b.ReportMetric(rps/baseline, "x-baseline")
	})
}

// driveHTTP sends b.N requests made by newReq (given a number unique in
// the run) from parallel goroutines over keep-alive loopback
// connections, checking each answers want and reading every body; it
// returns req/s (driveCalls reports it with p50 and p99).
func driveHTTP(b *testing.B, want int, newReq func(i int64) *http.Request) float64 {
	b.SetParallelism(parallelism)
	c := newClient(parallelism * 64)
	defer c.CloseIdleConnections()
	var seq atomic.Int64
	return driveCalls(b, func() error {
		req := newReq(seq.Add(1))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: status %d, want %d", req.Method, req.URL.Path, resp.StatusCode, want)
		}
		return err
	})
}
