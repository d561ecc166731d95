package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

// applyEnv is the applying block on one engine with the demo services.
type applyEnv struct {
	db  *storage.DB
	svc *application.Service
	ctx context.Context
}

func newApplyEnv(b *testing.B, d storage.Dialect) *applyEnv {
	b.Helper()
	db := storagetest.Open(b, d)
	clock := platform.SystemClock{}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: "bench"})
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Seed(ctx, ten); err != nil {
		b.Fatal(err)
	}
	cat, err := catalog.New(db, log, clock, ten)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demo.SeedExamples(ctx, cat); err != nil {
		b.Fatal(err)
	}
	bus := events.NewBus(clock)
	files, err := application.OpenFiles(ctx, "mem://")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { files.Close() })
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		b.Fatal(err)
	}
	cases, err := casework.New(db, log, bus, clock, casework.Deps{Runtimes: cat, Citizens: benchCitizen{}})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := application.New(application.Config{DB: db, Audit: log, Clock: clock, Services: cat, Cases: cases, Files: files,
		Jobs: ins, Registry: jobs.NewRegistry(), Mailer: noAppMail{}, Contacts: noAppContacts{}, Agencies: ten})
	if err != nil {
		b.Fatal(err)
	}
	return &applyEnv{db: db, svc: svc, ctx: ctx}
}

func engines(b *testing.B) []storage.Dialect {
	if os.Getenv(storagetest.PostgresEnv) == "" {
		b.Logf("PostgreSQL SKIPPED: set %s to measure it too", storagetest.PostgresEnv)
		return []storage.Dialect{storage.SQLite}
	}
	return []storage.Dialect{storage.SQLite, storage.Postgres}
}

const potholeAnswers = `{"where":{"location":"12 Elm Street, by the school","size":"medium"}}`

// BenchmarkSubmit measures submissions per second (Service.Submit: read
// the draft, validate every page again, compute the fee, mark it
// submitted, open the case with its reference, timeline entry, audit
// records and event in the outbox, all in one transaction) beside a raw
// loop of single-row INSERTs, each its own transaction, on the same
// engine in the same run: the limit of the disk and the driver.
func BenchmarkSubmit(b *testing.B) {
	for _, d := range engines(b) {
		e := newApplyEnv(b, d)
		if _, err := e.db.Write().ExecContext(e.ctx, `CREATE TABLE bench_raw (id TEXT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		round := 0
		b.Run("engine="+string(d)+"/op=submit", func(b *testing.B) {
			round++
			// Drafts ready to submit, one per person (a person has one
			// draft per service), made before the clock starts.
			ids := make([]string, b.N)
			now := time.Now().UTC()
			err := e.db.InTx(e.ctx, func(tx *sql.Tx) error {
				for i := range ids {
					ids[i] = fmt.Sprintf("app-%d-%d", round, i)
					if _, err := tx.ExecContext(e.ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, page, revision, created_at, updated_at, expires_at)
						VALUES ($1, 'springfield-pothole', 1, 'springfield-public-works', $2, 'draft', $3, 'check', 1, $4, $4, $5)`,
						ids[i], "acct-"+ids[i], potholeAnswers, now, now.Add(application.DraftLifetime)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				app, err := e.svc.Submit(e.ctx, application.Applicant{AccountID: "acct-" + ids[i]}, ids[i], 1)
				if err != nil || app.Reference == "" {
					b.Fatalf("submit: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
		b.Run("engine="+string(d)+"/op=raw-insert", func(b *testing.B) {
			round++
			start := time.Now()
			for i := range b.N {
				if _, err := e.db.Write().ExecContext(e.ctx, `INSERT INTO bench_raw (id, body) VALUES ($1, $2)`, fmt.Sprintf("%d-%d", round, i), potholeAnswers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// Dashboard data: citizens and applications per citizen (the first of
// each person's applications is a draft, the rest submitted with a case).
const (
	benchCitizens   = 100_000
	benchPerCitizen = 10
)

// seedDashboard bulk-inserts the applications and cases with one
// INSERT … SELECT over a generated series on each engine.
func seedDashboard(b *testing.B, e *applyEnv) {
	b.Helper()
	total := benchCitizens * benchPerCitizen
	now := time.Now().UTC()
	series := `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1) SELECT i FROM n`
	id, acct, ref := `printf('app-%07d', i)`, `printf('acct-%06d', i % $2)`, `printf('BENCH-%07d', i)`
	if e.db.Dialect == storage.Postgres {
		series = `SELECT generate_series(0, $1::int) AS i`
		id, acct, ref = `'app-' || lpad(i::text, 7, '0')`, `'acct-' || lpad((i % $2::int)::text, 6, '0')`, `'BENCH-' || lpad(i::text, 7, '0')`
	}
	start := time.Now()
	q := `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, page, reference, revision, created_at, updated_at, expires_at, submitted_at)
		SELECT ` + id + `, 'springfield-pothole', 1, 'springfield-public-works', ` + acct + `,
			CASE WHEN i < $2 THEN 'draft' ELSE 'submitted' END, '` + potholeAnswers + `', 'check',
			CASE WHEN i < $2 THEN NULL ELSE ` + ref + ` END, 1, $3, $3, CASE WHEN i < $2 THEN $4 ELSE NULL END, CASE WHEN i < $2 THEN NULL ELSE $3 END
		FROM (` + series + `) s`
	if e.db.Dialect == storage.Postgres { // one type per parameter for PostgreSQL's planner
		q = strings.NewReplacer("$3", "$3::timestamptz", "$4", "$4::timestamptz").Replace(q)
	}
	if _, err := e.db.Write().ExecContext(e.ctx, q, total-1, benchCitizens, now, now.Add(application.DraftLifetime)); err != nil {
		b.Fatalf("seed applications: %v", err)
	}
	if _, err := e.db.Write().ExecContext(e.ctx, `INSERT INTO cases (id, reference, agency_id, service_id, service_version, account_id, state, state_entered_at, waiting_on, opened_at, updated_at)
		SELECT id, reference, agency_id, service_id, service_version, account_id, 'reported', submitted_at, 'agency', submitted_at, submitted_at
		FROM applications WHERE status = 'submitted'`); err != nil {
		b.Fatalf("seed cases: %v", err)
	}
	if _, err := e.db.Write().ExecContext(e.ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: seeded %d citizens, %d applications and their cases in %s", e.db.Dialect, benchCitizens, total, time.Since(start).Round(time.Millisecond))
}

// BenchmarkDashboard measures the citizen dashboard's data (Service.Dashboard:
// the person's latest applications, their cases and the manifests' titles)
// with 100,000 citizens and 1,000,000 applications, beside a primary-key
// read of one application row in the same run.
func BenchmarkDashboard(b *testing.B) {
	for _, d := range engines(b) {
		e := newApplyEnv(b, d)
		seedDashboard(b, e)
		b.Run("engine="+string(d)+"/op=dashboard", func(b *testing.B) {
			start := time.Now()
			for i := range b.N {
				drafts, submitted, err := e.svc.Dashboard(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: fmt.Sprintf("acct-%06d", (i*7919)%benchCitizens)})
				if err != nil || len(drafts) != 1 || len(submitted) != benchPerCitizen-1 {
					b.Fatalf("dashboard: %d %d %v", len(drafts), len(submitted), err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
		b.Run("engine="+string(d)+"/op=row-by-key", func(b *testing.B) {
			start := time.Now()
			for i := range b.N {
				var status string
				if err := e.db.Read().QueryRowContext(e.ctx, `SELECT status FROM applications WHERE id = $1`, fmt.Sprintf("app-%07d", (i*7919)%(benchCitizens*benchPerCitizen))).Scan(&status); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
		explain(b, e)
	}
}

// explain logs the plans of the dashboard's two queries.
func explain(b *testing.B, e *applyEnv) {
	prefix := "EXPLAIN QUERY PLAN "
	if e.db.Dialect == storage.Postgres {
		prefix = "EXPLAIN "
	}
	for _, q := range []string{
		`SELECT id FROM applications WHERE account_id = 'acct-000042' AND status IN ('draft', 'submitted') ORDER BY updated_at DESC, id DESC LIMIT 100`,
		`SELECT id FROM cases WHERE account_id = 'acct-000042' ORDER BY opened_at DESC, id DESC`,
	} {
		rows, err := e.db.Read().QueryContext(e.ctx, prefix+q)
		if err != nil {
			b.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s plan: %v", e.db.Dialect, vals)
		}
		rows.Close()
	}
}

// benchCitizen, noAppMail and noAppContacts satisfy the blocks' required
// dependencies; the submission benchmark sends no email.
type benchCitizen struct{}

func (benchCitizen) Person(context.Context, string) (manifest.Person, error) {
	return manifest.Person{Age: 40, Language: "en"}, nil
}

type noAppMail struct{}

func (noAppMail) SendEmail(context.Context, *sql.Tx, application.Email) error { return nil }

type noAppContacts struct{}

func (noAppContacts) Contact(context.Context, string) (string, string, error) { return "", "", nil }
