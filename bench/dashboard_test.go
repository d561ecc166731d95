package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// othersMessages is how many notifications to other people the dashboard
// benchmark stores: the figure at which issue 9 (defect 5) measured the
// signed-in dashboard falling from 2,257 to 122 requests/s.
const othersMessages = 13_000

// BenchmarkSignedInDashboard serves GET /dashboard to a signed-in citizen
// (Beto, with three inbox messages) on SQLite, as `portico demo` runs:
//
//   - others=0: nobody else has any message (the baseline of this run);
//   - others=13000/inbox-index=00016: 13,000 notifications to other
//     people, with the inbox index of migration 00016 (account, channel, id);
//   - others=13000/inbox-index=00013: the same rows with the index as it
//     was before (partial, on created_at), which SQLite could not use for
//     the inbox query: the "before" of the fix, rebuilt in the same run.
//
// x-baseline is each variant's req/s over the baseline's: 1.0 means the
// page costs the same however many messages other people have.
func BenchmarkSignedInDashboard(b *testing.B) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	a := startDemoPeople(b, nil)
	beto, err := a.Identity.AccountByEmail(ctx, "beto.ciudadano@example.com")
	if err != nil {
		b.Fatal(err)
	}
	// Notifications are inserted in bulk (one INSERT … SELECT over a
	// recursive series), as the notify block stores them.
	insert := func(prefix, account string, n int) {
		b.Helper()
		if _, err := a.DB.Write().ExecContext(ctx, `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1)
			INSERT INTO notifications (id, agency_id, channel, recipient, subject, body_text, status, created_at, account_id)
			SELECT $2 || printf('%07d', i), 'dmv', 'inapp', $3 || i, 'Your registration', 'Renew by 1 May.', 'delivered', $4, $3 || i FROM s`,
			n, prefix, account, time.Now().UTC()); err != nil {
			b.Fatal(err)
		}
	}
	// Beto's three messages, older than everyone else's: their ids sort
	// first, so a walk of the table in id order from the newest (the old
	// plan) meets every other person's message before his.
	if _, err := a.DB.Write().ExecContext(ctx, `INSERT INTO notifications (id, agency_id, channel, recipient, subject, body_text, status, created_at, account_id)
		VALUES ('aa-1', 'dmv', 'inapp', '', 'Hello', 'Hello', 'delivered', $1, $2), ('aa-2', 'dmv', 'inapp', '', 'Hello', 'Hello', 'delivered', $1, $2),
		('aa-3', 'dmv', 'inapp', '', 'Hello', 'Hello', 'delivered', $1, $2)`, time.Now().UTC(), beto.ID); err != nil {
		b.Fatal(err)
	}
	cookie := benchSignIn(b, a.URL(), "beto.ciudadano@example.com")
	page := a.URL() + "/dashboard"

	// The baseline is the last (longest) run of others=0: b.Run calls
	// its function again for each b.N it tries.
	var baseline float64
	run := func(name string, isBaseline bool) {
		b.Run(name, func(b *testing.B) {
			rps := driveSignedIn(b, page, cookie)
			if isBaseline {
				baseline = rps
			}
			b.ReportMetric(rps/baseline, "x-baseline")
		})
	}
	run("others=0", true)
	// Other people's notifications, sent after Beto's.
	insert("nn-", "acct-other-", othersMessages)
	run(fmt.Sprintf("others=%d/inbox-index=00016", othersMessages), false)
	for _, q := range []string{`DROP INDEX notifications_inbox`,
		`CREATE INDEX notifications_inbox ON notifications (account_id, channel, created_at) WHERE account_id <> ''`} {
		if _, err := a.DB.Write().ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	run(fmt.Sprintf("others=%d/inbox-index=00013", othersMessages), false)
}

// startDemoPeople runs the real program on SQLite as `portico demo`
// does, with the demo's agencies and people (and whatever seed adds, when
// not nil), listening on loopback; it stops when b ends.
func startDemoPeople(b *testing.B, seed func(ctx context.Context, a *app.App) error) *app.App {
	b.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), LogLevel: slog.LevelInfo, Role: "all"}
	if err := cfg.Finish(); err != nil {
		b.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Listen: true})
	if err != nil {
		b.Fatal(err)
	}
	err = func() error {
		if _, err := demo.Seed(ctx, a.Tenancy); err != nil {
			return err
		}
		if _, err := demo.SeedPeople(ctx, a.Identity); err != nil {
			return err
		}
		if seed != nil {
			if err := seed(ctx, a); err != nil {
				return err
			}
		}
		return a.Start(ctx)
	}()
	if err != nil {
		a.Stop(ctx)
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.Stop(sctx)
	})
	return a
}

// benchSignIn signs a demo citizen in and returns the Cookie header value
// of their session.
func benchSignIn(b *testing.B, base, email string) string {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", base+"/sign-in", strings.NewReader(url.Values{"email": {email}, "password": {demo.CitizenPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// driveSignedIn is drive with a session cookie; it returns req/s.
func driveSignedIn(b *testing.B, page, cookie string) float64 {
	b.SetParallelism(parallelism)
	c := newClient(parallelism * 64)
	defer c.CloseIdleConnections()
	get := func() error {
		req, _ := http.NewRequest("GET", page, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", page, resp.StatusCode)
		}
		return err
	}
	return driveCalls(b, get)
}

// driveCalls runs b.N calls of do from parallel goroutines (after one to
// warm up and fail fast), failing b on the first error. It reports req/s
// and the p50 and p99 latency, and returns req/s.
func driveCalls(b *testing.B, do func() error) float64 {
	if err := do(); err != nil { // warm up, and fail fast
		b.Fatal(err)
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failure atomic.Pointer[string]
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			if err := do(); err != nil {
				msg := err.Error()
				failure.CompareAndSwap(nil, &msg)
				return
			}
			lat[next.Add(1)-1] = time.Since(t0)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if msg := failure.Load(); msg != nil {
		b.Fatal(*msg)
	}
	done := lat[:next.Load()]
	slices.Sort(done)
	rps := float64(len(done)) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(ms(percentile(done, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(done, 0.99)), "p99-ms")
	return rps
}
