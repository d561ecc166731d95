package events_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

type harness struct {
	db     *storage.DB
	bus    *events.Bus
	client *jobs.Client
}

func newHarness(t *testing.T, db *storage.DB, maxAttempts int, consumers ...events.Consumer) *harness {
	t.Helper()
	reg := jobs.NewRegistry()
	bus := events.NewBus(reg, platform.SystemClock{})
	for _, c := range consumers {
		bus.Subscribe(c)
	}
	client, err := jobs.New(db, reg, jobs.Config{
		Work: true, FetchPollInterval: 100 * time.Millisecond, MaxAttempts: maxAttempts, RetryPolicy: fastRetry{},
	})
	if err != nil {
		t.Fatal(err)
	}
	bus.SetJobs(client)
	return &harness{db: db, bus: bus, client: client}
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	if err := h.client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.client.Stop(ctx)
	})
}

func (h *harness) jobStates(t *testing.T) map[string]int {
	t.Helper()
	rows, err := h.db.Read().Query(`SELECT state, COUNT(*) FROM river_job WHERE kind = 'event.deliver' GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
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
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEmitIsDeliveredOnlyAfterCommit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		var got atomic.Int32
		h := newHarness(t, db, 5,
			events.Consumer{Name: "counter", Types: []string{"gov.portico.test.*"}, Handle: func(ctx context.Context, e events.Event) error {
				got.Add(1)
				return nil
			}},
			events.Consumer{Name: "other", Types: []string{"gov.portico.other"}, Handle: func(ctx context.Context, e events.Event) error {
				t.Errorf("consumer of another type received %s", e.Type)
				return nil
			}},
		)
		ctx := context.Background()
		// A rolled-back change leaves no event behind.
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := h.bus.Emit(ctx, tx, events.Event{Source: "/test", Type: "gov.portico.test.rolled-back"}); err != nil {
				return err
			}
			return errors.New("change failed")
		})
		if err == nil {
			t.Fatal("expected the change to fail")
		}
		if n := h.jobStates(t); len(n) != 0 {
			t.Fatalf("rolled-back emit left jobs: %v", n)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return h.bus.Emit(ctx, tx, events.Event{Source: "/test", Type: "gov.portico.test.committed", Subject: "x"})
		}); err != nil {
			t.Fatal(err)
		}
		h.start(t)
		eventually(t, "delivery", func() bool { return h.jobStates(t)["completed"] == 1 })
		if got.Load() != 1 {
			t.Fatalf("delivered %d times", got.Load())
		}
	})
}

// TestFailingConsumerRetriesThenDeadLetters proves the backoff path: a
// consumer that always fails is retried up to MaxAttempts and the delivery
// then rests in River's "discarded" state (our dead letter) instead of
// vanishing.
func TestFailingConsumerRetriesThenDeadLetters(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		var attempts atomic.Int32
		h := newHarness(t, db, 3, events.Consumer{Name: "broken", Types: []string{"gov.portico.test.fail"}, Handle: func(ctx context.Context, e events.Event) error {
			attempts.Add(1)
			return errors.New("downstream unavailable")
		}})
		ctx := context.Background()
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return h.bus.Emit(ctx, tx, events.Event{Source: "/test", Type: "gov.portico.test.fail"})
		}); err != nil {
			t.Fatal(err)
		}
		h.start(t)
		eventually(t, "dead letter", func() bool { return h.jobStates(t)["discarded"] == 1 })
		if n := attempts.Load(); n != 3 {
			t.Fatalf("attempts = %d, want 3", n)
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
