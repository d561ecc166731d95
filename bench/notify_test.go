package bench

// Notification benchmarks (issue 5), each beside a baseline measured in the
// same run:
//
//   - BenchmarkNotifyAPISend: GOV.UK Notify-compatible sends accepted per
//     second (POST /v2/notifications/email with a fresh HS256 token per
//     request, as Notify's clients make them; stored with its delivery
//     job, not yet delivered) against a bare net/http server answering a
//     201 of the same size. x-notify is req/s ÷ 350 (Notify's published
//     maximum for the whole service, 2020); x-key is req/s ÷ 50 (Notify's
//     3,000 messages per minute per API key).
//   - BenchmarkEmailDelivery: emails delivered per second by the jobs into
//     a local SMTP sink (go-smtp), against go-mail sending the same number
//     of messages straight to the sink with the same concurrency.
//
// BenchmarkNotifyAPISend runs on SQLite and, with PORTICO_TEST_POSTGRES_URL,
// on PostgreSQL (db=sqlite, db=postgres).
//
//	go test -run '^$' -bench 'NotifyAPISend|EmailDelivery' -benchtime 3s -count 6 ./bench/

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/wneessen/go-mail"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage/groupcommit"
)

// Notify's published figures.
const (
	notifyServicePerSecond = 350       // requests/s, the whole service, 2020
	notifyKeyPerSecond     = 3000 / 60 // messages per minute per API key
)

// startNotifyApp runs the real application with the demo seeded, the
// Notify API's limits off and the given SMTP server; work says whether this
// process also runs the delivery jobs.
func startNotifyApp(b *testing.B, smtpURL string, work bool, workers int) (*app.App, string) {
	return startNotifyAppOn(b, "", smtpURL, work, workers)
}

// startNotifyAppOn is startNotifyApp on the database dbURL ("": SQLite in
// a temporary directory).
func startNotifyAppOn(b *testing.B, dbURL, smtpURL string, work bool, workers int) (*app.App, string) {
	b.Helper()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), DB: dbURL, LogLevel: slog.LevelInfo, Role: "all",
		SMTPURL: smtpURL, MailFrom: "State of Example <no-reply@example.gov>", NotifyRateLimit: -1, NotifyDailyLimit: -1, Workers: workers}
	if err := cfg.Finish(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Migrate: true, Work: work, Listen: true})
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
		sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		a.Stop(sctx)
	})
	return a, a.URL()
}

func BenchmarkNotifyAPISend(b *testing.B) {
	oidcEngines(b, benchNotifyAPISend)
}

func benchNotifyAPISend(b *testing.B, dbURL string) {
	ctx := context.Background()
	a, base := startNotifyAppOn(b, dbURL, "", false, workers) // acceptance only: no worker delivers
	_, key, err := a.Notify.CreateAPIKey(ctx, "dmv", "bench", notify.KeyLive)
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateEmail, Name: "Renewal",
		Subject: "Renew plate ((plate))", Body: "Dear ((name)),\n\nYour registration for ((plate)) expires on ((date)). Renew at https://example.gov/renew."})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"email_address": "ana@example.com", "template_id": tpl.ID, "reference": "bench",
		"personalisation": map[string]any{"name": "Ana", "plate": "ABC123", "date": "1 May"}})
	service, secret := key[len(key)-73:len(key)-37], []byte(key[len(key)-36:])
	// The bare server answers what Portico answers, byte for byte.
	sample := postJSON(b, newClient(1), base+"/v2/notifications/email", body, service, secret)
	bare := startBareStatus(b, sample, http.StatusCreated)

	send := func(url string) func(c *http.Client) error {
		return func(c *http.Client) error {
			req, err := newNotifyRequest(url, body, service, secret)
			if err != nil {
				return err
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}
	}
	b.Run("server=portico", func(b *testing.B) {
		s0 := a.Notify.SubmitStats()
		driveNotify(b, send(base+"/v2/notifications/email"))
		reportBatches(b, s0, a.Notify.SubmitStats())
	})
	b.Run("server=bare-net-http", func(b *testing.B) { driveNotify(b, send(bare+"/v2/notifications/email")) })
	// One send at a time: every group commit holds one send, so the work
	// per send does not depend on how requests happened to overlap. It is
	// the sub-benchmark to count instructions of (valgrind --tool=callgrind
	// with two values of -test.benchtime Nx, the difference per send).
	b.Run("server=portico/serial", func(b *testing.B) {
		do, c := send(base+"/v2/notifications/email"), newClient(1)
		defer c.CloseIdleConnections()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := do(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// driveNotify is driveRequests with Notify's figures as the yardstick.
func driveNotify(b *testing.B, do func(c *http.Client) error) {
	b.SetParallelism(parallelism)
	c := newClient(parallelism * 64)
	defer c.CloseIdleConnections()
	if err := do(c); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	var failure atomic.Pointer[string]
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			if err := do(c); err != nil {
				msg := err.Error()
				failure.CompareAndSwap(nil, &msg)
				return
			}
			lat[n.Add(1)-1] = time.Since(t0)
		}
	})
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	if msg := failure.Load(); msg != nil {
		b.Fatal(*msg)
	}
	done := lat[:n.Load()]
	slices.Sort(done)
	rps := float64(len(done)) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(ms(percentile(done, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(done, 0.99)), "p99-ms")
	b.ReportMetric(rps/notifyServicePerSecond, "x-notify")
	b.ReportMetric(rps/notifyKeyPerSecond, "x-key")
	reportCPU(b, cpu, len(done))
}

// reportBatches reports the group commit's items per shared transaction
// between two readings of its counters (internal/storage/groupcommit).
func reportBatches(b *testing.B, before, after groupcommit.Stats) {
	if n := after.Batches - before.Batches; n > 0 {
		b.ReportMetric(float64(after.Items-before.Items)/float64(n), "items/batch")
	}
}

func newNotifyRequest(url string, body []byte, service string, secret []byte) (*http.Request, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": time.Now().Unix()}).SignedString(secret)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

func postJSON(b *testing.B, c *http.Client, url string, body []byte, service string, secret []byte) []byte {
	b.Helper()
	req, err := newNotifyRequest(url, body, service, secret)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("POST %s: %d %s", url, resp.StatusCode, out)
	}
	return out
}

// startBareStatus is startBare answering JSON with status.
func startBareStatus(b *testing.B, body []byte, status int) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// sink is an SMTP server that accepts and counts every message.
type sink struct {
	addr     string
	received atomic.Int64
	srv      *smtp.Server
}

func startSink(b *testing.B) *sink {
	b.Helper()
	s := &sink{}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln)
	b.Cleanup(func() { s.srv.Close() })
	return s
}

type sinkSession struct{ s *sink }

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	ss.s.received.Add(1)
	return err
}
func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }

// workers is the delivery concurrency on both sides: Portico's default
// job workers per process.
const workers = 10

func BenchmarkEmailDelivery(b *testing.B) {
	s := startSink(b)
	text := "Dear Ana,\n\nYour registration for ABC123 expires on 1 May. Renew at https://example.gov/renew.\n"
	// Portico with its default 10 job workers (the baseline's
	// concurrency), and with 50: River fetches each worker's next job on a
	// 100 ms cooldown, which bounds 10 workers near 100 jobs/s.
	for _, n := range []int{workers, 5 * workers} {
		a, _ := startNotifyApp(b, "smtp://"+s.addr+"?tls=none", true, n)
		b.Run(fmt.Sprintf("sender=portico-jobs-%d", n), func(b *testing.B) { deliverThroughJobs(b, a, s, text) })
	}
	b.Run("sender=bare-go-mail", func(b *testing.B) { deliverBare(b, s, text) })
}

// deliverThroughJobs commits b.N emails to the outbox, 100 per
// transaction, and waits until the sink has received them all.
func deliverThroughJobs(b *testing.B, a *app.App, s *sink, text string) {
	ctx := context.Background()
	before := s.received.Load()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 { // 100 messages per transaction
		if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			for j := i; j < min(i+100, b.N); j++ {
				if _, err := a.Notify.SendEmail(ctx, tx, notify.Email{To: fmt.Sprintf("person%d@example.com", j), Subject: "Renew plate ABC123", Text: text}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for s.received.Load()-before < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d delivered", s.received.Load()-before, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "emails/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds()*60/3000, "x-key-per-min")
}

// deliverBare sends b.N emails straight to the sink with go-mail from
// workers goroutines, one connection per message as Portico's jobs do.
func deliverBare(b *testing.B, s *sink, text string) {
	before := s.received.Load()
	var next atomic.Int64
	var failure atomic.Pointer[string]
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				m := mail.NewMsg()
				_ = m.From("no-reply@example.gov")
				_ = m.To(fmt.Sprintf("person%d@example.com", i))
				m.Subject("Renew plate ABC123")
				m.SetBodyString(mail.TypeTextPlain, text)
				host, port, _ := net.SplitHostPort(s.addr)
				var p int
				fmt.Sscan(port, &p)
				c, err := mail.NewClient(host, mail.WithPort(p), mail.WithTLSPolicy(mail.NoTLS))
				if err == nil {
					err = c.DialAndSend(m)
				}
				if err != nil {
					msg := err.Error()
					failure.CompareAndSwap(nil, &msg)
					return
				}
			}
		})
	}
	wg.Wait()
	for s.received.Load()-before < int64(b.N) && failure.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if msg := failure.Load(); msg != nil {
		b.Fatal(*msg)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "emails/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds()*60/3000, "x-key-per-min")
}
