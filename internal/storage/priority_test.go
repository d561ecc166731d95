package storage_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestBulkYieldsToForeground: a bulk transaction asked for while a
// person's request is in flight begins only after it ends, when the yield
// is long enough (ADR 74); with a short yield it begins anyway (bulk work
// slows down, never stops); and on SQLite a second handle on the same
// database, a separate worker process's, yields to the first handle's
// requests through the flag file.
func TestBulkYieldsToForeground(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			u := storagetest.MigratedURL(t, d)
			web, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer web.Close()
			worker := web
			if d == storage.SQLite {
				if worker, err = storage.Open(ctx, u); err != nil {
					t.Fatal(err)
				}
				defer worker.Close()
			}
			var mu sync.Mutex
			var order []string
			note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }

			worker.SetBulkYield(time.Hour) // only the request's end lets it go
			done := web.Foreground()
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := worker.InBulkTx(ctx, func(*sql.Tx) error { note("bulk"); return nil }); err != nil {
					t.Error(err)
				}
			})
			time.Sleep(30 * time.Millisecond) // the bulk step is waiting
			note("request")
			done()
			wg.Wait()
			if len(order) != 2 || order[0] != "request" {
				t.Errorf("order %v, want the request first", order)
			}

			// A request that never ends holds bulk work back by the yield
			// at most: it goes on.
			worker.SetBulkYield(5 * time.Millisecond)
			done = web.Foreground()
			defer done()
			for range 3 {
				if err := worker.InBulkTx(ctx, func(*sql.Tx) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			// Yield off: no wait at all, whatever is in flight.
			worker.SetBulkYield(0)
			worker.Yield(ctx)

			// The flag is down once every request ended: a bulk step
			// does not wait (it would wait an hour).
			done()
			worker.SetBulkYield(time.Hour)
			if err := worker.InBulkTx(ctx, func(*sql.Tx) error { return nil }); err != nil {
				t.Fatal(err)
			}
			// A request that was counted twice as done (a deferred call
			// after an explicit one) does not lower another's flag.
			d1, d2 := web.Foreground(), web.Foreground()
			d1()
			d1()
			yielded := make(chan struct{})
			go func() {
				_ = worker.InBulkTx(ctx, func(*sql.Tx) error { close(yielded); return nil })
			}()
			time.Sleep(30 * time.Millisecond)
			select {
			case <-yielded:
				t.Error("a bulk step went ahead while a request was still in flight")
			default:
			}
			d2()
			<-yielded
		})
	}
}
