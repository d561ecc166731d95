package bench

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkPaymentCreate measures payments created per second by the
// payment block, the way an agency's POST /v1/payments creates one: a
// checkout of one payment in its own transaction, with the payment's
// history row, its hash-chained audit entry and its event in the outbox.
// Beside it, in the same run on the same fresh database, the baseline is
// a raw insert loop of the same payment row alone, one per transaction,
// from the same number of writers. The ratio says what the guarantees
// cost (history, audit chain, outbox, checkout row), not what the engine
// can do.
//
//	PORTICO_BENCH_PAYMENTS=3000 go test -run '^$' -bench PaymentCreate -benchtime 1x ./bench/
//
// PostgreSQL runs when PORTICO_TEST_POSTGRES_URL is set.
func BenchmarkPaymentCreate(b *testing.B) {
	n := envInt("PORTICO_BENCH_PAYMENTS", 3000)
	for _, d := range storagetest.Dialects(b) {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("engine=%s/writers=%d", d, writers), func(b *testing.B) {
				for range b.N {
					db := storagetest.Open(b, d)
					raw := rawPaymentInserts(b, db, n, writers)
					created := createPayments(b, db, n, writers)
					b.ReportMetric(float64(n)/created.Seconds(), "payments/s")
					b.ReportMetric(float64(n)/raw.Seconds(), "raw-rows/s")
					b.ReportMetric(created.Seconds()/raw.Seconds(), "create/raw")
					b.Logf("%s, %d writers, %d payments one per transaction: raw inserts %v, OpenCheckout %v",
						d, writers, n, raw.Round(time.Millisecond), created.Round(time.Millisecond))
				}
			})
		}
	}
}

func rawPaymentInserts(b *testing.B, db *storage.DB, n, writers int) time.Duration {
	ctx := context.Background()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE bench_payment_raw (id TEXT PRIMARY KEY, agency_id TEXT NOT NULL, live BOOLEAN NOT NULL, amount BIGINT NOT NULL,
		currency TEXT NOT NULL, reference TEXT NOT NULL, description TEXT NOT NULL, return_url TEXT NOT NULL, language TEXT NOT NULL, email TEXT NOT NULL,
		delayed_capture BOOLEAN NOT NULL, provider TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	return inParallel(b, n, writers, func(i int) error {
		return db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO bench_payment_raw (id, agency_id, live, amount, currency, reference, description, return_url, language, email, delayed_capture, provider, status, created_at, updated_at, expires_at)
				VALUES ($1, 'dmv', FALSE, 4500, 'USD', $2, 'Vehicle registration renewal', 'https://dmv.example.gov/paid', 'en', '', FALSE, 'sandbox', 'created', $3, $3, $4)`,
				fmt.Sprintf("raw%023d", i), fmt.Sprintf("DMV-%08d", i), now, now.Add(payment.Expiry))
			return err
		})
	})
}

func createPayments(b *testing.B, db *storage.DB, n, writers int) time.Duration {
	ctx := context.Background()
	clock := platform.SystemClock{}
	svc, err := payment.NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock)
	if err != nil {
		b.Fatal(err)
	}
	actor := platform.Actor{Kind: platform.ActorStaff, ID: "system-dmv"}
	return inParallel(b, n, writers, func(i int) error {
		return db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := svc.OpenCheckout(ctx, tx, actor, payment.OpenCheckout{Payment: &payment.New{Agency: "dmv", Amount: 4500,
				Reference: fmt.Sprintf("DMV-%08d", i), Description: "Vehicle registration renewal", ReturnURL: "https://dmv.example.gov/paid"}})
			return err
		})
	})
}
