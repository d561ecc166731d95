package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestObserverSeesEveryStatement checks that an observed pool reports each
// way a block can run SQL, with the arguments the driver received.
func TestObserverSeesEveryStatement(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			var seen []storage.Statement
			db, err := storage.OpenWith(ctx, storagetest.NewURL(t, d), storage.Options{Observe: func(_ context.Context, s storage.Statement) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, s)
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Write().ExecContext(ctx, `CREATE TABLE observed (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name  string
				run   func() error
				query string
				args  []any
			}{
				{"exec", func() error {
					_, err := db.Write().ExecContext(ctx, `INSERT INTO observed (id, n) VALUES ($1, $2)`, "a", 1)
					return err
				}, `INSERT INTO observed (id, n) VALUES ($1, $2)`, []any{"a", int64(1)}},
				{"query", func() error {
					var n int
					return db.Read().QueryRowContext(ctx, `SELECT n FROM observed WHERE id = $1`, "a").Scan(&n)
				}, `SELECT n FROM observed WHERE id = $1`, []any{"a"}},
				{"in a transaction", func() error {
					return db.InTx(ctx, func(tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, `UPDATE observed SET n = n + 1 WHERE id = $1`, "a")
						return err
					})
				}, `UPDATE observed SET n = n + 1 WHERE id = $1`, []any{"a"}},
				{"prepared", func() error {
					st, err := db.Read().PrepareContext(ctx, `SELECT n FROM observed WHERE id = $1 AND n > $2`)
					if err != nil {
						return err
					}
					defer st.Close()
					var n int
					return st.QueryRowContext(ctx, "a", 0).Scan(&n)
				}, `SELECT n FROM observed WHERE id = $1 AND n > $2`, []any{"a", int64(0)}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					mu.Lock()
					seen = nil
					mu.Unlock()
					if err := tt.run(); err != nil {
						t.Fatal(err)
					}
					mu.Lock()
					defer mu.Unlock()
					i := slices.IndexFunc(seen, func(s storage.Statement) bool { return s.Query == tt.query })
					if i < 0 {
						t.Fatalf("statement %q not observed; saw %v", tt.query, seen)
					}
					// Compared as text: pgx receives int as int, SQLite's
					// driver as int64 (database/sql's default conversion).
					if fmt.Sprint(seen[i].Args) != fmt.Sprint(tt.args) {
						t.Fatalf("args = %#v, want %#v", seen[i].Args, tt.args)
					}
				})
			}
		})
	}
}
