package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkReminderSweep measures the time to send N due reminders as far
// as Portico's scheduler takes them: N materialised occurrences (one per
// obligation) are claimed by reminder.Service.Sweep in transactions of
// PORTICO_BENCH_BATCH (1000) and their send jobs, PORTICO_BENCH_SEND_BATCH
// (100) reminders per job, are enqueued in River in the same transaction. Beside it, in the same run and on the same fresh
// database, the baseline is a raw insert loop: N rows of the same width
// inserted with one INSERT per row in transactions of the same size, the
// least work that writes N rows durably. The email itself (the send job,
// then notify's delivery) is not part of this figure; see docs/performance.md.
//
//	PORTICO_BENCH_REMINDERS=100000 go test -run '^$' -bench ReminderSweep -benchtime 1x -timeout 60m ./bench/
//
// PostgreSQL runs when PORTICO_TEST_POSTGRES_URL is set.
func BenchmarkReminderSweep(b *testing.B) {
	n := envInt("PORTICO_BENCH_REMINDERS", 100000)
	batch := envInt("PORTICO_BENCH_BATCH", 1000)
	sendBatch := envInt("PORTICO_BENCH_SEND_BATCH", 100)
	for _, d := range storagetest.Dialects(b) {
		b.Run("engine="+string(d), func(b *testing.B) {
			for range b.N {
				db := storagetest.Open(b, d)
				raw := rawInsertLoop(b, db, n, batch)
				sweep := sweepAll(b, db, n, batch, sendBatch)
				b.ReportMetric(float64(n)/sweep.Seconds(), "reminders/s")
				b.ReportMetric(sweep.Seconds()*1e6/float64(n), "s/1M-reminders")
				b.ReportMetric(float64(n)/raw.Seconds(), "raw-rows/s")
				b.ReportMetric(sweep.Seconds()/raw.Seconds(), "sweep/raw")
				b.Logf("%s: %d reminders, claim batch %d, %d reminders per send job: raw insert loop %v, claim+enqueue %v",
					d, n, batch, sendBatch, raw.Round(time.Millisecond), sweep.Round(time.Millisecond))
			}
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// rawInsertLoop inserts n rows into a scratch table, batch per transaction.
func rawInsertLoop(b *testing.B, db *storage.DB, n, batch int) time.Duration {
	ctx := context.Background()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE bench_raw (id TEXT PRIMARY KEY, n INTEGER NOT NULL, payload TEXT NOT NULL, at TIMESTAMP NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	payload := `{"obligation_id":"o0000000","due_on":"2027-03-01","offset_minutes":-10080}`
	start := time.Now()
	for i := 0; i < n; i += batch {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				if _, err := tx.ExecContext(ctx, `INSERT INTO bench_raw (id, n, payload, at) VALUES ($1, $2, $3, $4)`, "r"+strconv.Itoa(j), j, payload, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// sweepAll seeds n due occurrences (untimed) and times one Sweep that
// claims them all and enqueues n send jobs.
func sweepAll(b *testing.B, db *storage.DB, n, batch, sendBatch int) time.Duration {
	ctx := context.Background()
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	seedOccurrences(b, db, n, now.Add(-time.Hour))
	reg := jobs.NewRegistry()
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		b.Fatal(err)
	}
	clock := platform.NewFakeClock(now)
	signer, err := audit.LoadOrCreateSigner(b.TempDir() + "/audit.key")
	if err != nil {
		b.Fatal(err)
	}
	svc, err := reminder.New(db, audit.New(db, clock, signer), clock, ins, reg, noContacts{}, noMail{}, reminder.Config{BatchSize: batch, SendBatch: sendBatch, MaxPerSweep: n + 1})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	st, err := svc.Sweep(ctx)
	elapsed := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	var jobsQueued int
	if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'reminder_send'`).Scan(&jobsQueued); err != nil {
		b.Fatal(err)
	}
	if want := (n + sendBatch - 1) / sendBatch; st.Enqueued != n || jobsQueued < want {
		b.Fatalf("enqueued %d reminders in %d jobs (stats %+v), want %d in at least %d", st.Enqueued, jobsQueued, st, n, want)
	}
	return elapsed
}

func seedOccurrences(b *testing.B, db *storage.DB, n int, at time.Time) {
	ctx := context.Background()
	series := `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $2) `
	from := `FROM g`
	if db.Dialect == storage.Postgres {
		series, from = ``, `FROM generate_series(1, $2) AS g(i)`
	}
	stmts := []string{
		series + `INSERT INTO obligations (id, account_id, agency_id, kind, source, title_en, title_es, due_on, schedule, status, created_at, updated_at)
			SELECT 'o' || i, 'a' || (i % 1000), 'dmv', 'renewal', 'bench:' || i, 'Renew', 'Renueve', '2027-03-08', '[-10080]', 'open', $1, $1 ` + from,
		series + `INSERT INTO reminder_occurrences (obligation_id, offset_minutes, send_at) SELECT 'o' || i, -10080, $1 ` + from,
	}
	for _, q := range stmts {
		if _, err := db.Write().ExecContext(ctx, q, at, n); err != nil {
			b.Fatal(fmt.Errorf("seed: %w", err))
		}
	}
	// Give the planner the statistics autovacuum would have gathered on a
	// table that grew to this size over time (a bulk insert followed at
	// once by the sweep has none yet).
	if _, err := db.Write().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(fmt.Errorf("seed: analyze: %w", err))
	}
}

// noContacts and noMail satisfy the reminder block's required directory
// and mailer; the sweep benchmark only claims and enqueues, it sends nothing.
type noContacts struct{}

func (noContacts) Contact(context.Context, string) (reminder.Contact, error) {
	return reminder.Contact{}, reminder.ErrNoContact
}

type noMail struct{}

func (noMail) SendEmail(context.Context, *sql.Tx, reminder.Message) (string, error) {
	return "", fmt.Errorf("bench: no mail is sent")
}
