package casework_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkSweepSLA measures one sweep that finds 100 cases past due,
// beside background open cases not yet due: with the cases_sla index the
// time follows the 100, not the background.
//
//	go test ./internal/casework -run '^$' -bench SweepSLA -benchtime 20x
func BenchmarkSweepSLA(b *testing.B) {
	for _, background := range []int{0, 20000} {
		b.Run(fmt.Sprintf("due=100/background=%d", background), func(b *testing.B) {
			db := storagetest.Open(b, storage.SQLite)
			e := newEnv(b, db)
			svc, err := e.cat.Latest(e.ctx, "springfield-pothole")
			if err != nil {
				b.Fatal(err)
			}
			now := e.clock.Now()
			insert := func(id string, due time.Time) func(tx *sql.Tx) error {
				return func(tx *sql.Tx) error {
					if _, err := tx.Exec(`INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
						VALUES ($1, $2, $3, $4, 'acct-1', 'submitted', '{}', $5, $5)`, id, svc.ID, svc.Version, svc.AgencyID, now); err != nil {
						return err
					}
					_, err := tx.Exec(`INSERT INTO cases (id, reference, agency_id, service_id, service_version, account_id, state, state_entered_at, sla_due_at, opened_at, updated_at)
						VALUES ($1, $1, $2, $3, $4, 'acct-1', 'reported', $5, $6, $5, $5)`, id, svc.AgencyID, svc.ID, svc.Version, now, due)
					return err
				}
			}
			err = db.InTx(e.ctx, func(tx *sql.Tx) error {
				for i := range background {
					if err := insert(fmt.Sprintf("bg-%d", i), now.Add(30*24*time.Hour))(tx); err != nil {
						return err
					}
				}
				for i := range 100 {
					if err := insert(fmt.Sprintf("due-%d", i), now.Add(time.Hour))(tx); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			e.clock.Advance(2 * time.Hour)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if _, err := db.Write().Exec(`UPDATE cases SET overdue = FALSE WHERE id LIKE 'due-%'`); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				n, err := e.cw.SweepSLA(e.ctx)
				if err != nil || n != 100 {
					b.Fatalf("swept %d, %v", n, err)
				}
			}
		})
	}
}
