package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// Plain queries on a connection that keeps its prepared statements
// (SQLite; PostgreSQL's pool is unchanged) must answer exactly as
// unprepared ones: the same text run again while rows of it are still
// open, a statement that failed and is run again, more distinct texts
// than the connection keeps, and statements inside a rolled-back
// transaction.
func TestKeptStatements(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Write().ExecContext(ctx, `CREATE TABLE kept (k TEXT PRIMARY KEY, v BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		const ins = `INSERT INTO kept (k, v) VALUES ($1, $2)`
		const list = `SELECT k, v FROM kept WHERE v >= $1 ORDER BY k`
		tests := []struct {
			name string
			run  func(tx *sql.Tx) error
		}{
			{"insert, then the same insert again", func(tx *sql.Tx) error {
				for i := range 3 {
					if _, err := tx.ExecContext(ctx, ins, fmt.Sprint("a", i), i); err != nil {
						return err
					}
				}
				return nil
			}},
			{"a failed insert does not spoil the next", nil}, // outside a transaction: see below
			{"the same query while its rows are open", func(tx *sql.Tx) error {
				if db.Dialect != storage.SQLite {
					return nil // pgx runs one query at a time per connection
				}
				outer, err := tx.QueryContext(ctx, list, 0)
				if err != nil {
					return err
				}
				defer outer.Close()
				var seen []string
				for outer.Next() {
					var k string
					var v int64
					if err := outer.Scan(&k, &v); err != nil {
						return err
					}
					// The inner query runs the same text on the same
					// connection while the outer rows are open.
					var n int
					inner, err := tx.QueryContext(ctx, list, v)
					if err != nil {
						return err
					}
					for inner.Next() {
						n++
					}
					if err := inner.Close(); err != nil {
						return err
					}
					if n == 0 {
						return fmt.Errorf("inner query for %s found nothing", k)
					}
					seen = append(seen, k)
				}
				if err := outer.Err(); err != nil {
					return err
				}
				if fmt.Sprint(seen) != "[a0 a1 a2 b0]" {
					return fmt.Errorf("outer rows %v, want [a0 a1 a2 b0]", seen)
				}
				return nil
			}},
			{"more distinct statements than a connection keeps", func(tx *sql.Tx) error {
				for i := range 300 {
					var v int64
					q := fmt.Sprintf(`SELECT v + %d FROM kept WHERE k = $1`, i)
					if err := tx.QueryRowContext(ctx, q, "a1").Scan(&v); err != nil {
						return err
					}
					if v != int64(1+i) {
						return fmt.Errorf("%s: %d", q, v)
					}
				}
				return nil
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				run := tt.run
				if run == nil {
					// On PostgreSQL a failed statement aborts the
					// transaction it is in, so each runs on its own.
					if _, err := db.Write().ExecContext(ctx, ins, "a0", 9); err == nil {
						t.Fatal("duplicate key inserted")
					}
					if _, err := db.Write().ExecContext(ctx, ins, "b0", 5); err != nil {
						t.Fatal(err)
					}
					return
				}
				if err := db.InTx(ctx, run); err != nil {
					t.Fatal(err)
				}
			})
		}
		t.Run("rolled back", func(t *testing.T) {
			tx, err := db.Write().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, ins, "z", 1); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM kept WHERE k = $1`, "z").Scan(&n); err != nil || n != 0 {
				t.Fatalf("rolled-back row: %d %v", n, err)
			}
			if _, err := db.Write().ExecContext(ctx, ins, "z", 1); err != nil {
				t.Fatalf("the kept insert after a rollback: %v", err)
			}
		})
	})
}
