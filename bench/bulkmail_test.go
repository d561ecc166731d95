package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkReminderEmails is the end-to-end bulk reminder benchmark (issue
// 14): PORTICO_BENCH_EMAILS (100,000) people each have an obligation whose
// reminder is due; the clock starts when they are due and stops when the
// SMTP server (an in-process go-smtp sink on loopback that counts what it
// accepts) has accepted every email. The path is the real one: the sweep
// job claims the due reminders and enqueues send jobs, each send job
// composes its reminders and stores their notifications with their
// delivery jobs, and the delivery jobs hand the emails to the server.
//
// Beside it, in the same run: a raw loop sending the same number of
// messages of the same size straight to the same server over one
// connection (go-mail), the least work that delivers them. And the
// signed-in dashboard's rate (16 clients for PORTICO_BENCH_PAGE_SECONDS,
// 10) while idle and while the bulk send is being delivered.
//
// roles=all runs one process (`portico serve`); roles=split runs a web
// process and a worker process (`--role web`, `--role worker`) on one
// database. Both are in this test binary, so they share its CPUs and
// its Go scheduler, as two processes would on this two-core machine, but
// not their database pools or job queue. roles=split-proc (not in the
// default set) runs the worker as a real process, `portico serve --role
// worker`, so that its own CPU priority (--worker-nice, ADR 74) can
// count: the binary is PORTICO_BENCH_PORTICO, or built from ./cmd/portico
// when that is unset.
//
//	PORTICO_BENCH_EMAILS=100000 go test -run '^$' -bench ReminderEmails -benchtime 1x -timeout 120m ./bench/
//
// PostgreSQL runs when PORTICO_TEST_POSTGRES_URL is set (PORTICO_BENCH_PG_POOL
// sets its pool's size);
// PORTICO_BENCH_ROLES=all, split or split-proc (comma-separated) chooses
// the layouts.
func BenchmarkReminderEmails(b *testing.B) {
	n := envInt("PORTICO_BENCH_EMAILS", 100000)
	layouts := []string{"all", "split"}
	if v := os.Getenv("PORTICO_BENCH_ROLES"); v != "" {
		layouts = strings.Split(v, ",")
	}
	for _, d := range storagetest.Dialects(b) {
		for _, layout := range layouts {
			b.Run(fmt.Sprintf("engine=%s/roles=%s", d, layout), func(b *testing.B) {
				for range b.N {
					benchBulk(b, d, n, layout)
				}
			})
		}
	}
}

// reminderText is about the size of a reminder Compose writes.
const reminderText = "Hello,\n\nRenew your vehicle registration\nIt is due on March 8, 2027.\n\nDo it online:\nhttps://services.example.gov/services/renew-registration\n\nSee everything coming up:\nhttps://services.example.gov/coming-up\n\nYou get this email because you have an account on this site.\n"

func benchBulk(b *testing.B, d storage.Dialect, n int, layout string) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	s := startSink(b)
	raw := rawSMTPLoop(b, s, n)

	dataDir := b.TempDir()
	dbURL := storagetest.NewURL(b, d)
	if n := os.Getenv("PORTICO_BENCH_PG_POOL"); n != "" && d == storage.Postgres {
		// The pgx pool's size (its default: the larger of 4 and the CPUs).
		dbURL += "&pool_max_conns=" + n
	}
	newCfg := func(role string) config.Config {
		cfg := config.Config{Addr: "127.0.0.1:0", DataDir: dataDir, DB: dbURL, LogLevel: slog.LevelWarn, Role: role,
			SMTPURL: "smtp://" + s.addr + "?tls=none", MailFrom: "State of Example <no-reply@example.gov>",
			Workers: envInt("PORTICO_WORKERS", 0)}
		if err := cfg.Finish(); err != nil {
			b.Fatal(err)
		}
		return cfg
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := func(role string, opts app.Options) *app.App {
		a, err := app.New(ctx, newCfg(role), logger, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			a.Stop(sctx)
		})
		return a
	}
	var web, worker *app.App
	if layout == "split" || layout == "split-proc" {
		web = start("web", app.Options{Migrate: true, Listen: true})
	} else {
		web = start("all", app.Options{Migrate: true, Listen: true, Work: true})
		worker = web
	}
	if _, err := demo.Seed(ctx, web.Tenancy); err != nil {
		b.Fatal(err)
	}
	if _, err := demo.SeedPeople(ctx, web.Identity); err != nil {
		b.Fatal(err)
	}
	seedStart := time.Now()
	seedBulkPeople(b, web.DB, n)
	b.Logf("seeded %d people with an obligation each in %s", n, time.Since(seedStart).Round(time.Second))
	if err := web.Start(ctx); err != nil {
		b.Fatal(err)
	}
	switch layout {
	case "split":
		worker = start("worker", app.Options{Work: true})
		if err := worker.Start(ctx); err != nil {
			b.Fatal(err)
		}
	case "split-proc":
		startWorkerProcess(b, dataDir, dbURL, "smtp://"+s.addr+"?tls=none")
		worker = web // for inserting the sweep job: the process works it
	}
	cookie := benchSignIn(b, web.URL(), "beto.ciudadano@example.com")
	page := web.URL() + "/dashboard"
	pageFor := time.Duration(envInt("PORTICO_BENCH_PAGE_SECONDS", 10)) * time.Second
	poolIdle := poolWaits(web.DB)
	idle := driveFor(b, page, cookie, pageFor)
	poolIdle = poolWaits(web.DB).minus(poolIdle)

	// Due now: the reminders fall due, and a sweep job is queued as the
	// periodic one would be.
	before := s.received.Load()
	began := time.Now()
	seedBulkDue(b, web.DB, n, began.Add(-time.Minute))
	if _, err := worker.Jobs.Insert(ctx, reminder.SweepArgs{}, nil); err != nil {
		b.Fatal(err)
	}
	// The moment the last email is accepted, noted while the busy page
	// run goes on: a send shorter than the page run would otherwise be
	// timed as long as the run (2 s + PORTICO_BENCH_PAGE_SECONDS).
	var doneAt atomic.Pointer[time.Time]
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for s.received.Load()-before < int64(n) {
			select {
			case <-watchCtx.Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
		t := time.Now()
		doneAt.Store(&t)
	}()
	time.Sleep(2 * time.Second) // the send is under way
	poolBusy := poolWaits(web.DB)
	busy := driveFor(b, page, cookie, pageFor)
	poolBusy = poolWaits(web.DB).minus(poolBusy)
	if web.DB.Dialect == storage.Postgres {
		// Whether pages waited for a connection of the web process's pool
		// (issue 14: is it the pool or the CPUs?).
		b.Logf("web pool: idle page run %s; busy page run %s", poolIdle, poolBusy)
	}
	busyDelivered := s.received.Load() - before

	deadline := time.Now().Add(2 * time.Hour)
	last, lastAt := int64(0), time.Now()
	for s.received.Load()-before < int64(n) {
		got := s.received.Load() - before
		if got != last {
			last, lastAt = got, time.Now()
		}
		if time.Now().After(deadline) || time.Since(lastAt) > 5*time.Minute {
			b.Fatalf("only %d of %d emails accepted after %s", got, n, time.Since(began).Round(time.Second))
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(began)
	for range 100 { // the watcher polls every millisecond
		if at := doneAt.Load(); at != nil {
			elapsed = at.Sub(began)
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a duplicate would arrive now
	if got := s.received.Load() - before; got != int64(n) {
		b.Errorf("the SMTP server accepted %d emails for %d reminders", got, n)
	}
	var delivered int
	if err := web.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE channel = 'email' AND status = 'delivered' AND reference LIKE 'obligation:bulk%'`).Scan(&delivered); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "emails/s")
	b.ReportMetric(elapsed.Seconds()*1e6/float64(n)/60, "min/1M-emails")
	b.ReportMetric(float64(n)/raw.Seconds(), "raw-emails/s")
	b.ReportMetric(raw.Seconds()/elapsed.Seconds(), "x-raw")
	b.ReportMetric(idle, "dashboard-idle-req/s")
	b.ReportMetric(busy, "dashboard-busy-req/s")
	b.ReportMetric(busy/idle, "busy/idle")
	b.Logf("%s roles=%s: %d reminder emails due → accepted in %s (%.0f/s; %d delivered recorded, %d during the busy page run); raw loop over one connection %s (%.0f/s); dashboard %.0f req/s idle, %.0f req/s during the send (%.2f×)",
		d, layout, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), delivered, busyDelivered,
		raw.Round(time.Millisecond), float64(n)/raw.Seconds(), idle, busy, busy/idle)
}

// startWorkerProcess runs `portico serve --role worker` on the database
// until the benchmark ends. Its flags come from the environment as an
// operator's would (PORTICO_WORKER_NICE, PORTICO_BULK_YIELD,
// PORTICO_WORKERS), so an older binary that lacks a flag still starts.
func startWorkerProcess(b *testing.B, dataDir, dbURL, smtpURL string) {
	bin := os.Getenv("PORTICO_BENCH_PORTICO")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "portico")
		build := exec.Command("go", "build", "-o", bin, "./cmd/portico")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build portico: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin, "serve", "--role", "worker", "--data", dataDir, "--db", dbURL, "--log-level", "warn",
		"--mail-from", "State of Example <no-reply@example.gov>")
	cmd.Env = append(os.Environ(), "PORTICO_SMTP_URL="+smtpURL)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

// rawSMTPLoop sends n messages of a reminder's size to s over one
// connection with go-mail, one after another, and waits until s has
// accepted them all.
func rawSMTPLoop(b *testing.B, s *sink, n int) time.Duration {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	c, err := mail.NewClient(host, mail.WithPort(p), mail.WithTLSPolicy(mail.NoTLS), mail.WithoutNoop())
	if err != nil {
		b.Fatal(err)
	}
	before := s.received.Load()
	start := time.Now()
	if err := c.DialWithContext(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		m := mail.NewMsg(mail.WithNoDefaultUserAgent())
		_ = m.From("State of Example <no-reply@example.gov>")
		_ = m.To(fmt.Sprintf("person%d@example.com", i))
		m.Subject("Renew your vehicle registration: due March 8, 2027")
		m.SetMessageIDWithValue(fmt.Sprintf("raw%d@example.gov", i))
		m.SetBodyString(mail.TypeTextPlain, reminderText)
		if err := c.Send(m); err != nil {
			b.Fatal(err)
		}
	}
	for s.received.Load()-before < int64(n) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	_ = c.Close()
	return elapsed
}

// seedBulkPeople inserts n citizens (email person<i>@example.com) and an
// open obligation each, due a week from today, in one statement per table.
func seedBulkPeople(b *testing.B, db *storage.DB, n int) {
	ctx := context.Background()
	now := time.Now().UTC()
	due := now.AddDate(0, 0, 7).Format("2006-01-02")
	series, from := `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $2) `, `FROM g`
	if db.Dialect == storage.Postgres {
		series, from = ``, `FROM generate_series(1, $2) AS g(i)`
	}
	stmts := []string{
		series + `INSERT INTO accounts (id, kind, email, email_key, email_verified_at, created_at, updated_at)
			SELECT 'bulk' || i, 'citizen', 'person' || i || '@example.com', 'person' || i || '@example.com', $1, $1, $1 ` + from,
		series + `INSERT INTO obligations (id, account_id, agency_id, kind, source, title_en, title_es, url, due_on, schedule, status, created_at, updated_at)
			SELECT 'bulk' || i, 'bulk' || i, 'dmv', 'renewal', 'bench:renew', 'Renew your vehicle registration', 'Renueve el registro de su vehículo',
			'/services/renew-registration', '` + due + `', '[-10080]', 'open', $1, $1 ` + from,
	}
	for _, q := range stmts {
		if _, err := db.Write().ExecContext(ctx, q, now, n); err != nil {
			b.Fatal(fmt.Errorf("seed: %w", err))
		}
	}
}

// seedBulkDue makes each seeded obligation's reminder due at at: the
// moment a million reminders fall due together.
func seedBulkDue(b *testing.B, db *storage.DB, n int, at time.Time) {
	ctx := context.Background()
	q := `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $2)
		INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at) SELECT 'bulk' || i, -10080, $1 FROM g`
	if db.Dialect == storage.Postgres {
		q = `INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at) SELECT 'bulk' || i, -10080, $1 FROM generate_series(1, $2) AS g(i)`
	}
	if _, err := db.Write().ExecContext(ctx, q, at.UTC(), n); err != nil {
		b.Fatal(fmt.Errorf("seed: %w", err))
	}
	if _, err := db.Write().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(fmt.Errorf("seed: analyze: %w", err))
	}
}

// driveFor requests page with the session cookie from 16 clients for d
// and returns the rate of 200 answers per second.
func driveFor(b *testing.B, page, cookie string, d time.Duration) float64 {
	const clients = 16
	c := newClient(clients)
	defer c.CloseIdleConnections()
	var ok, failed atomic.Int64
	var firstErr atomic.Pointer[string]
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("GET", page, nil)
				req.Header.Set("Cookie", cookie)
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: status %d", page, resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Errorf("%d dashboard requests failed, first: %s", f, *firstErr.Load())
	}
	return float64(ok.Load()) / time.Since(start).Seconds()
}

// pgWaits is what a PostgreSQL pool's acquirers waited: how many
// acquisitions found no idle connection, and their total wait.
type pgWaits struct {
	acquires, empty int64
	wait            time.Duration
}

func poolWaits(db *storage.DB) pgWaits {
	if db.Pgx() == nil {
		return pgWaits{}
	}
	st := db.Pgx().Stat()
	return pgWaits{st.AcquireCount(), st.EmptyAcquireCount(), st.EmptyAcquireWaitTime()}
}

func (w pgWaits) minus(v pgWaits) pgWaits {
	return pgWaits{w.acquires - v.acquires, w.empty - v.empty, w.wait - v.wait}
}

func (w pgWaits) String() string {
	return fmt.Sprintf("%d acquisitions, %d waited for a connection, %s waiting in all", w.acquires, w.empty, w.wait.Round(time.Millisecond))
}
