package bench

import (
	"context"
	"database/sql"
	"fmt"
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

// BenchmarkObligationsImport measures an obligations import (what
// `portico obligations import` and POST /api/v1/obligations run:
// reminder.Importer) of N new rows owed by 1000 people, in batches of
// reminder.DefaultImportBatch: each row checked, looked up (its person
// read from a table, once per person), written with its planned
// reminders, each batch one transaction, one audit entry. Then the same
// rows again (every row unchanged). Beside it, in the same run on the
// same fresh database, the baseline is a raw insert loop of the same
// obligation rows, one INSERT per row, DefaultImportBatch rows per
// transaction.
//
//	PORTICO_BENCH_IMPORT_ROWS=20000 go test -run '^$' -bench ObligationsImport -benchtime 1x ./bench/
//
// PostgreSQL runs when PORTICO_TEST_POSTGRES_URL is set.
func BenchmarkObligationsImport(b *testing.B) {
	n := envInt("PORTICO_BENCH_IMPORT_ROWS", 20000)
	for _, d := range storagetest.Dialects(b) {
		b.Run("engine="+string(d), func(b *testing.B) {
			for range b.N {
				db := storagetest.Open(b, d)
				rows := importRows(n)
				raw := rawObligationInserts(b, db, rows)
				im := newImporter(b, db)
				first := timeImport(b, im, rows, func(s reminder.ImportSummary) bool { return s.Created == n })
				again := timeImport(b, im, rows, func(s reminder.ImportSummary) bool { return s.Unchanged == n })
				b.ReportMetric(float64(n)/first.Seconds(), "rows/s")
				b.ReportMetric(float64(n)/again.Seconds(), "again-rows/s")
				b.ReportMetric(float64(n)/raw.Seconds(), "raw-rows/s")
				b.ReportMetric(first.Seconds()/raw.Seconds(), "import/raw")
				b.Logf("%s: %d rows, batches of %d: raw insert loop %v, import %v, same rows again %v",
					d, n, reminder.DefaultImportBatch, raw.Round(time.Millisecond), first.Round(time.Millisecond), again.Round(time.Millisecond))
			}
		})
	}
}

// importRows are n property-tax instalments of 1000 people, due over
// half a year.
func importRows(n int) []reminder.ImportRow {
	due := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	rows := make([]reminder.ImportRow, n)
	for i := range rows {
		rows[i] = reminder.ImportRow{Person: fmt.Sprintf("person%04d@example.com", i%1000), Kind: "property_tax",
			Amount: fmt.Sprintf("%d.%02d", 100+i%900, i%100), Due: due.AddDate(0, 0, i%180).Format("01/02/2006"), Reference: fmt.Sprintf("P-%07d", i)}
	}
	return rows
}

// benchPeople is the import's directory: people by email from a table,
// one query per lookup, as the identity block answers.
type benchPeople struct{ db *storage.DB }

func (p benchPeople) Person(ctx context.Context, person string) (string, error) {
	var id string
	err := p.db.Read().QueryRowContext(ctx, `SELECT id FROM bench_people WHERE email = $1`, person).Scan(&id)
	if err == sql.ErrNoRows {
		return "", platform.Errorf(platform.CodeNotFound, "no such person")
	}
	return id, err
}

func (benchPeople) AgencyExists(context.Context, string) (bool, error)   { return true, nil }
func (benchPeople) ClientAgency(context.Context, string) (string, error) { return "", nil }

func newImporter(b *testing.B, db *storage.DB) *reminder.Importer {
	ctx := context.Background()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE bench_people (email TEXT PRIMARY KEY, id TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := db.Write().ExecContext(ctx, `INSERT INTO bench_people (email, id) VALUES ($1, $2)`,
			fmt.Sprintf("person%04d@example.com", i), fmt.Sprintf("acct-%04d", i)); err != nil {
			b.Fatal(err)
		}
	}
	clock := platform.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := reminder.New(db, audit.New(db, clock, nil), clock, ins, jobs.NewRegistry(), noContacts{}, noMail{}, reminder.Config{})
	if err != nil {
		b.Fatal(err)
	}
	im, err := reminder.NewImporter(svc, benchPeople{db}, 0)
	if err != nil {
		b.Fatal(err)
	}
	return im
}

func timeImport(b *testing.B, im *reminder.Importer, rows []reminder.ImportRow, ok func(reminder.ImportSummary) bool) time.Duration {
	start := time.Now()
	sum, err := im.Import(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "bench"}, "adams-treasurer",
		&reminder.Lines{Rows: rows}, reminder.ImportOptions{Name: "bench.csv"})
	elapsed := time.Since(start)
	if err != nil || !ok(sum) {
		b.Fatalf("import: %+v, %v", sum, err)
	}
	return elapsed
}

// rawObligationInserts inserts the rows as obligation-shaped rows into a
// scratch table, one INSERT per row, DefaultImportBatch per transaction.
func rawObligationInserts(b *testing.B, db *storage.DB, rows []reminder.ImportRow) time.Duration {
	ctx := context.Background()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE bench_obligation_raw (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, agency_id TEXT NOT NULL,
		kind TEXT NOT NULL, source TEXT NOT NULL, title_en TEXT NOT NULL, title_es TEXT NOT NULL, due_on TEXT NOT NULL, schedule TEXT NOT NULL,
		status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, amount_minor BIGINT, amount_currency TEXT, reference TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	batch := reminder.DefaultImportBatch
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for j := i; j < min(i+batch, len(rows)); j++ {
				r := rows[j]
				if _, err := tx.ExecContext(ctx, `INSERT INTO bench_obligation_raw (id, account_id, agency_id, kind, source, title_en, title_es, due_on, schedule,
					status, created_at, updated_at, amount_minor, amount_currency, reference) VALUES ($1, $2, 'adams-treasurer', 'property_tax', $3, 'Property tax', 'Impuesto', $4,
					'[-86400,-43200,-10080,0,10080]', 'open', $5, $5, $6, 'USD', $7)`,
					"r"+strconv.Itoa(j), r.Person, "import:adams-treasurer/"+r.Reference+"/"+r.Due, r.Due, now, 10000+j, r.Reference); err != nil {
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
