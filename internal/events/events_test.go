package events_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// fastConfig makes retries and polling quick enough for tests.
func fastConfig(owner string) events.DispatchConfig {
	return events.DispatchConfig{
		Poll:    20 * time.Millisecond,
		Lease:   3 * time.Second,
		Backoff: func(int) time.Duration { return 50 * time.Millisecond },
		Owner:   owner,
	}
}

func emit(t *testing.T, db *storage.DB, bus *events.Bus, evs ...events.Event) {
	t.Helper()
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sql.Tx) error {
		for _, e := range evs {
			if err := bus.Emit(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func consumers(t *testing.T, db *storage.DB) map[string]events.ConsumerState {
	t.Helper()
	cs, err := events.Consumers(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]events.ConsumerState{}
	for _, c := range cs {
		out[c.Name] = c
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder is a consumer handler that remembers what it was given.
type recorder struct {
	mu   sync.Mutex
	seen []string // subjects, in delivery order
}

func (r *recorder) handle(ctx context.Context, e events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, e.Subject)
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func TestEmitStoresCloudEventInCommitOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		bus := events.NewBus(platform.NewFakeClock(at))
		// A rolled-back change leaves no event behind.
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := bus.Emit(ctx, tx, events.Event{Source: "/test", Type: "gov.portico.test.rolled-back"}); err != nil {
				return err
			}
			return errors.New("change failed")
		})
		if err == nil {
			t.Fatal("expected the change to fail")
		}
		emit(t, db, bus, events.Event{Source: "/portico/test", Type: "gov.portico.test.created", Subject: "thing:1", AgencyID: "dmv", Data: []byte(`{"a":1}`)})
		if n, err := events.Sequence(ctx, db, 0); err != nil || n != 1 {
			t.Fatalf("sequenced %d, %v; want 1", n, err)
		}
		got, err := events.Read(ctx, db, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("log has %d events, want 1 (the rolled-back one must not appear)", len(got))
		}
		e := got[0]
		if e.Position != 1 || e.ID == "" || e.Source != "/portico/test" || e.Type != "gov.portico.test.created" || e.Subject != "thing:1" ||
			!e.Time.Equal(at) || e.SpecVersion != "1.0" || e.DataContentType != "application/json" || e.AgencyID != "dmv" || !strings.Contains(string(e.Data), `"a"`) {
			t.Fatalf("stored event = %+v", e)
		}
	})
}

func TestEmitRefusesBadEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := events.NewBus(platform.SystemClock{})
		for _, tc := range []struct {
			name string
			e    events.Event
			want string
		}{
			{"no type", events.Event{Source: "/test"}, "needs a source and a type"},
			{"no source", events.Event{Type: "gov.portico.test"}, "needs a source and a type"},
			{"data not JSON", events.Event{Source: "/test", Type: "gov.portico.test", Data: []byte("{")}, "data is not JSON"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := db.InTx(ctx, func(tx *sql.Tx) error { return bus.Emit(ctx, tx, tc.e) })
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			})
		}
		// The same id twice is refused, not silently duplicated.
		emit(t, db, bus, events.Event{ID: "e-1", Source: "/test", Type: "gov.portico.test"})
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			return bus.Emit(ctx, tx, events.Event{ID: "e-1", Source: "/test", Type: "gov.portico.test"})
		})
		if err == nil || !strings.Contains(err.Error(), "already in the log") {
			t.Fatalf("duplicate id: err = %v", err)
		}
	})
}

// TestConsumersDeliverInOrderAndFailuresDoNotBlockOthers: each consumer
// gets the events of its types after its cursor, in log order; a failing
// consumer is retried with backoff and stays on the event that fails while
// a healthy one moves on.
func TestConsumersDeliverInOrderAndFailuresDoNotBlockOthers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		bus := events.NewBus(platform.SystemClock{})
		all, cases := &recorder{}, &recorder{}
		var failures atomic.Int32
		var healed atomic.Bool
		bus.Subscribe(events.Consumer{Name: "all", Types: []string{"gov.portico.*"}, Handle: all.handle})
		bus.Subscribe(events.Consumer{Name: "cases", Types: []string{"gov.portico.case.*"}, Handle: cases.handle})
		bus.Subscribe(events.Consumer{Name: "flaky", Types: []string{"gov.portico.case.opened"}, Handle: func(ctx context.Context, e events.Event) error {
			if !healed.Load() {
				failures.Add(1)
				return errors.New("downstream unavailable")
			}
			return nil
		}})
		d, err := events.NewDispatcher(db, bus, fastConfig("test"))
		if err != nil {
			t.Fatal(err)
		}
		emit(t, db, bus,
			events.Event{Source: "/test", Type: "gov.portico.agency.created", Subject: "a1"},
			events.Event{Source: "/test", Type: "gov.portico.case.opened", Subject: "c1"},
		)
		emit(t, db, bus, events.Event{Source: "/test", Type: "gov.portico.case.closed", Subject: "c2"})
		emit(t, db, bus, events.Event{Source: "/test", Type: "other.thing", Subject: "x"})
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Stop(context.Background()) })

		eventually(t, "healthy consumers caught up", func() bool {
			cs := consumers(t, db)
			return cs["all"].Position == 4 && cs["cases"].Position == 4
		})
		if got := strings.Join(all.got(), " "); got != "a1 c1 c2" {
			t.Errorf("all got %q", got)
		}
		if got := strings.Join(cases.got(), " "); got != "c1 c2" {
			t.Errorf("cases got %q", got)
		}
		eventually(t, "retries", func() bool { return failures.Load() >= 3 })
		f := consumers(t, db)["flaky"]
		if f.Position != 1 || f.Attempts < 1 || !strings.Contains(f.LastError, "downstream unavailable") || f.RetryAt == nil {
			t.Fatalf("flaky consumer = %+v; want it held just before position 2 with its error", f)
		}
		healed.Store(true)
		eventually(t, "flaky consumer recovered", func() bool {
			c := consumers(t, db)["flaky"]
			return c.Position == 4 && c.Attempts == 0 && c.LastError == ""
		})
	})
}

// TestReplay moves a consumer back and proves it handles the events again
// from there, and that bad replays are refused with a clear error.
func TestReplay(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := events.NewBus(platform.SystemClock{})
		r := &recorder{}
		bus.Subscribe(events.Consumer{Name: "r", Types: []string{"gov.portico.*"}, Handle: r.handle})
		d, err := events.NewDispatcher(db, bus, fastConfig("test"))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Register(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			emit(t, db, bus, events.Event{Source: "/test", Type: "gov.portico.test", Subject: fmt.Sprint(i)})
		}
		drain := func() {
			t.Helper()
			if _, err := events.Sequence(ctx, db, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Drive(ctx, "r"); err != nil {
				t.Fatal(err)
			}
		}
		drain()
		for _, tc := range []struct {
			name     string
			consumer string
			from     int64
			code     platform.Code
			want     string // delivered after the replay
		}{
			{"from the start", "r", 1, "", "1 2 3 4 5"},
			{"from the middle", "r", 4, "", "4 5"},
			{"from the head's next", "r", 6, "", ""},
			{"zero", "r", 0, platform.CodeInvalid, ""},
			{"past the head", "r", 7, platform.CodeInvalid, ""},
			{"unknown consumer", "nobody", 1, platform.CodeNotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(r.got())
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					_, err := events.Replay(ctx, tx, tc.consumer, tc.from, time.Now())
					return err
				})
				if tc.code != "" {
					var pe *platform.Error
					if !errors.As(err, &pe) || pe.Code != tc.code {
						t.Fatalf("err = %v, want code %s", err, tc.code)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				drain()
				if got := strings.Join(r.got()[before:], " "); got != tc.want {
					t.Fatalf("delivered %q after replay, want %q", got, tc.want)
				}
				if c := consumers(t, db)["r"]; c.Position != 5 {
					t.Fatalf("cursor %d, want 5", c.Position)
				}
			})
		}
	})
}

// TestOneProcessDrivesAConsumer runs three dispatchers (as three worker
// replicas would) on one database: every event is handled, in order, and
// never by two of them at once.
func TestOneProcessDrivesAConsumer(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const n = 60
		var inFlight, overlaps atomic.Int32
		var mu sync.Mutex
		var seen []string
		bus := events.NewBus(platform.SystemClock{})
		bus.Subscribe(events.Consumer{Name: "single", Types: []string{"gov.portico.test"}, Handle: func(ctx context.Context, e events.Event) error {
			if inFlight.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer inFlight.Add(-1)
			time.Sleep(time.Millisecond)
			mu.Lock()
			seen = append(seen, e.Subject)
			mu.Unlock()
			return nil
		}})
		for i := range 3 {
			cfg := fastConfig(fmt.Sprintf("replica-%d", i))
			cfg.Batch = 5
			d, err := events.NewDispatcher(db, bus, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Stop(context.Background()) })
		}
		for i := range n {
			emit(t, db, bus, events.Event{Source: "/test", Type: "gov.portico.test", Subject: fmt.Sprintf("%03d", i)})
		}
		eventually(t, "all delivered", func() bool { return consumers(t, db)["single"].Position == n })
		if o := overlaps.Load(); o != 0 {
			t.Fatalf("%d handler calls overlapped another process's", o)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != n {
			t.Fatalf("handled %d events, want %d (no crash, so no redelivery)", len(seen), n)
		}
		for i, s := range seen {
			if s != fmt.Sprintf("%03d", i) {
				t.Fatalf("event %d was %s: out of order", i, s)
			}
		}
	})
}

// TestOutOfOrderCommit is the reason for the sequencer: on PostgreSQL two
// transactions append, the later one commits first and is consumed; the
// earlier one then commits, and the consumer must still get it. A cursor on
// the append id (taken before commit) would skip it.
func TestOutOfOrderCommit(t *testing.T) {
	if len(storagetest.Dialects(t)) < 2 {
		t.Skip("needs PostgreSQL: SQLite has one writer, so appends commit in id order")
	}
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	bus := events.NewBus(platform.SystemClock{})
	r := &recorder{}
	bus.Subscribe(events.Consumer{Name: "r", Types: []string{"gov.portico.test"}, Handle: r.handle})
	d, err := events.NewDispatcher(db, bus, fastConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Register(ctx); err != nil {
		t.Fatal(err)
	}
	step := func() {
		t.Helper()
		if _, err := events.Sequence(ctx, db, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Drive(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
	early, err := db.Write().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Rollback()
	if err := bus.Emit(ctx, early, events.Event{Source: "/test", Type: "gov.portico.test", Subject: "early"}); err != nil {
		t.Fatal(err)
	}
	emit(t, db, bus, events.Event{Source: "/test", Type: "gov.portico.test", Subject: "late"}) // commits first
	step()
	if got := strings.Join(r.got(), " "); got != "late" {
		t.Fatalf("before the early commit, delivered %q", got)
	}
	if err := early.Commit(); err != nil {
		t.Fatal(err)
	}
	step()
	if got := strings.Join(r.got(), " "); got != "late early" {
		t.Fatalf("delivered %q, want both: the early transaction's event was skipped", got)
	}
	// The append ids were in the other order: a cursor on them would skip.
	var earlyID, lateID int64
	if err := db.Read().QueryRow(`SELECT (SELECT id FROM event_log WHERE subject = 'early'), (SELECT id FROM event_log WHERE subject = 'late')`).Scan(&earlyID, &lateID); err != nil {
		t.Fatal(err)
	}
	if earlyID > lateID {
		t.Fatalf("test did not set up an out-of-order commit: ids early=%d late=%d", earlyID, lateID)
	}
}

// TestConcurrentAppendsNeverFillInBelowTheCursor hammers the log from many
// transactions while a consumer reads; on PostgreSQL they commit in any
// order. Every event must be delivered exactly once (no crash) and the
// positions must run 1..n without gaps.
func TestConcurrentAppendsNeverFillInBelowTheCursor(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const writers, each = 8, 25
		bus := events.NewBus(platform.SystemClock{})
		var mu sync.Mutex
		count := map[string]int{}
		var last int64
		var disorder atomic.Int32
		bus.Subscribe(events.Consumer{Name: "c", Types: []string{"gov.portico.test"}, Handle: func(ctx context.Context, e events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			count[e.Subject]++
			if e.Position != last+1 {
				disorder.Add(1)
			}
			last = e.Position
			return nil
		}})
		d, err := events.NewDispatcher(db, bus, fastConfig("test"))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Stop(context.Background()) })
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					ctx := context.Background()
					err := db.InTx(ctx, func(tx *sql.Tx) error {
						if err := bus.Emit(ctx, tx, events.Event{Source: "/test", Type: "gov.portico.test", Subject: fmt.Sprintf("%d-%d", w, i)}); err != nil {
							return err
						}
						time.Sleep(time.Duration((w+i)%3) * time.Millisecond) // commit in varied order
						return nil
					})
					if err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		eventually(t, "all delivered", func() bool { return consumers(t, db)["c"].Position == writers*each })
		mu.Lock()
		defer mu.Unlock()
		if len(count) != writers*each {
			t.Fatalf("delivered %d distinct events, want %d", len(count), writers*each)
		}
		for s, n := range count {
			if n != 1 {
				t.Fatalf("event %s delivered %d times", s, n)
			}
		}
		if n := disorder.Load(); n != 0 {
			t.Fatalf("%d deliveries did not follow the previous position", n)
		}
	})
}

func TestOnceRunsEffectOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		runs := 0
		for range 3 {
			err := events.Once(ctx, db, "c", "event-1", time.Now().UTC(), func(tx *sql.Tx) error {
				runs++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if runs != 1 {
			t.Fatalf("effect ran %d times", runs)
		}
		// A failed effect leaves no receipt, so the retry does the work.
		_ = events.Once(ctx, db, "c", "event-2", time.Now().UTC(), func(tx *sql.Tx) error { return errors.New("fail") })
		ran := false
		if err := events.Once(ctx, db, "c", "event-2", time.Now().UTC(), func(tx *sql.Tx) error { ran = true; return nil }); err != nil || !ran {
			t.Fatalf("retry after failure: ran=%v err=%v", ran, err)
		}
	})
}
