package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestInBulkTx: bulk transactions commit and roll back like InTx; on SQLite
// no two of one process overlap, and a transaction already waiting for the
// writer when a bulk one asks for it goes first.
func TestInBulkTx(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		if err := db.InBulkTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO jurisdictions (id, kind, name, created_at) VALUES ($1, 'state', 'X', $2)`, "x", time.Now().UTC()); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("InBulkTx error = %v", err)
		}
		var inside, most atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := db.InBulkTx(ctx, func(tx *sql.Tx) error {
					n := inside.Add(1)
					defer inside.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(5 * time.Millisecond)
					return nil
				}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if db.Dialect == storage.SQLite && most.Load() != 1 {
			t.Errorf("%d bulk transactions at once, want 1", most.Load())
		}
		if db.Dialect != storage.SQLite {
			return
		}
		// A person's transaction waits for the writer while a bulk one
		// holds it; the next bulk transaction lets it go first.
		var order []string
		var mu sync.Mutex
		note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		held, release := make(chan struct{}), make(chan struct{})
		go func() {
			_ = db.InBulkTx(ctx, func(*sql.Tx) error { close(held); <-release; return nil })
		}()
		<-held
		wg.Go(func() { _ = db.InTx(ctx, func(*sql.Tx) error { note("person"); return nil }) })
		time.Sleep(20 * time.Millisecond) // the person waits for the writer
		wg.Go(func() { _ = db.InBulkTx(ctx, func(*sql.Tx) error { note("bulk"); return nil }) })
		time.Sleep(20 * time.Millisecond)
		close(release)
		wg.Wait()
		if len(order) != 2 || order[0] != "person" {
			t.Errorf("order %v, want the person first", order)
		}
	})
}
