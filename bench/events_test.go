package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// BenchmarkEventAppend measures events appended to the log per second by
// events.Bus.Emit, one event per transaction (one state change, one event),
// from 1 and from 8 concurrent writers. Beside it, in the same run on the
// same fresh database, the baseline is a raw insert loop: the same number
// of rows of the same width into a plain table, one per transaction, from
// the same number of writers. It then times what follows an append: the
// sequencer giving the events positions, and one consumer with an empty
// handler reading them and moving its cursor after each.
//
//	PORTICO_BENCH_EVENTS=5000 go test -run '^$' -bench EventAppend -benchtime 1x ./bench/
//
// PostgreSQL runs when PORTICO_TEST_POSTGRES_URL is set.
func BenchmarkEventAppend(b *testing.B) {
	n := envInt("PORTICO_BENCH_EVENTS", 5000)
	for _, d := range storagetest.Dialects(b) {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("engine=%s/writers=%d", d, writers), func(b *testing.B) {
				for range b.N {
					db := storagetest.Open(b, d)
					raw := rawEventInserts(b, db, n, writers)
					bus := events.NewBus(platform.SystemClock{})
					appended := appendEvents(b, db, bus, n, writers)
					seq, deliver := sequenceAndDeliver(b, db, bus, n)
					b.ReportMetric(float64(n)/appended.Seconds(), "events/s")
					b.ReportMetric(float64(n)/raw.Seconds(), "raw-rows/s")
					b.ReportMetric(appended.Seconds()/raw.Seconds(), "append/raw")
					b.ReportMetric(float64(n)/seq.Seconds(), "sequenced/s")
					b.ReportMetric(float64(n)/deliver.Seconds(), "delivered/s")
					b.Logf("%s, %d writers, %d events one per transaction: raw inserts %v, Emit %v, sequence %v, deliver %v",
						d, writers, n, raw.Round(time.Millisecond), appended.Round(time.Millisecond), seq.Round(time.Millisecond), deliver.Round(time.Millisecond))
				}
			})
		}
	}
}

// inParallel runs fn(i) for i in 0..n-1 on writers goroutines and returns
// the wall time.
func inParallel(b *testing.B, n, writers int, fn func(i int) error) time.Duration {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return elapsed
}

const benchEventData = `{"case_id":"c-0000000000","state":"submitted","by":"account:a-00000000"}`

func rawEventInserts(b *testing.B, db *storage.DB, n, writers int) time.Duration {
	ctx := context.Background()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE bench_event_raw (id TEXT PRIMARY KEY, source TEXT NOT NULL, type TEXT NOT NULL, subject TEXT NOT NULL, at TIMESTAMP NOT NULL, data TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	return inParallel(b, n, writers, func(i int) error {
		return db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO bench_event_raw (id, source, type, subject, at, data) VALUES ($1, $2, $3, $4, $5, $6)`,
				"0190f0a0-0000-7000-8000-"+fmt.Sprintf("%012d", i), "/portico/casework", "gov.portico.case.transitioned", "case:"+strconv.Itoa(i), now, benchEventData)
			return err
		})
	})
}

func appendEvents(b *testing.B, db *storage.DB, bus *events.Bus, n, writers int) time.Duration {
	ctx := context.Background()
	return inParallel(b, n, writers, func(i int) error {
		return db.InTx(ctx, func(tx *sql.Tx) error {
			return bus.Emit(ctx, tx, events.Event{Source: "/portico/casework", Type: "gov.portico.case.transitioned", Subject: "case:" + strconv.Itoa(i), Data: []byte(benchEventData)})
		})
	})
}

// sequenceAndDeliver times Sequence over the whole backlog, then one
// consumer driven through it.
func sequenceAndDeliver(b *testing.B, db *storage.DB, bus *events.Bus, n int) (seq, deliver time.Duration) {
	ctx := context.Background()
	start := time.Now()
	for total := 0; total < n; {
		k, err := events.Sequence(ctx, db, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			b.Fatalf("sequenced %d of %d", total, n)
		}
		total += k
	}
	seq = time.Since(start)
	bus.Subscribe(events.Consumer{Name: "bench", Types: []string{"gov.portico.*"}, Handle: func(context.Context, events.Event) error { return nil }})
	d, err := events.NewDispatcher(db, bus, events.DispatchConfig{Batch: 500})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Register(ctx); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	for total := 0; total < n; {
		k, err := d.Drive(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			b.Fatalf("delivered %d of %d", total, n)
		}
		total += k
	}
	return seq, time.Since(start)
}
