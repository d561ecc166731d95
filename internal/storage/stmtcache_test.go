package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// The hot-statement helpers must behave exactly like their plain
// counterparts, across committed and rolled-back transactions (a
// transaction's copy of a cached statement must not close the cached one).
func TestHotStatements(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Write().ExecContext(ctx, `CREATE TABLE hot (k TEXT PRIMARY KEY, v BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		const ins = `INSERT INTO hot (k, v) VALUES ($1, $2)`
		const bump = `UPDATE hot SET v = v + 1 WHERE k = $1 RETURNING v`
		const get = `SELECT v FROM hot WHERE k = $1`
		tests := []struct {
			name     string
			key      string
			rollback bool
			want     int64 // value read afterwards; -1: no row
		}{
			{"commit", "a", false, 2},
			{"rollback", "b", true, -1},
			{"commit after a rollback reuses the statements", "c", false, 2},
			{"again", "d", false, 2},
		}
		errRollback := errors.New("roll back")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := db.ExecHot(ctx, tx, ins, tt.key, 1); err != nil {
						return err
					}
					var v int64
					if err := db.QueryRowHot(ctx, tx, bump, tt.key).Scan(&v); err != nil {
						return err
					}
					if v != 2 {
						t.Errorf("in tx: v = %d, want 2", v)
					}
					if tt.rollback {
						return errRollback
					}
					return nil
				})
				if tt.rollback != errors.Is(err, errRollback) || !tt.rollback && err != nil {
					t.Fatalf("InTx: %v", err)
				}
				var got int64 = -1
				if err := db.ReadRowHot(ctx, get, tt.key).Scan(&got); err != nil && !errors.Is(err, sql.ErrNoRows) {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Fatalf("read back %d, want %d", got, tt.want)
				}
				rows, err := db.HotRead().QueryContext(ctx, `SELECT k FROM hot ORDER BY k`)
				if err != nil {
					t.Fatal(err)
				}
				rows.Close()
			})
		}
		// A statement the engine refuses reports its error through Scan.
		if err := db.ReadRowHot(ctx, `SELECT nope FROM nowhere`).Scan(new(int)); err == nil {
			t.Fatal("bad query: no error")
		}
	})
}
