package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// item is a row of gc_items. The foreign key on parent is checked at
// COMMIT (deferred) on both engines, which is how the tests make a COMMIT
// fail; the CHECK on n makes one INSERT fail inside the batch.
type item struct {
	id     string
	parent string
	n      int
	refuse bool // Commit returns an error for it without touching SQL
	panics bool // Commit panics on it
}

var schema = []string{
	`CREATE TABLE gc_parents (id TEXT PRIMARY KEY)`,
	`CREATE TABLE gc_items (
		id TEXT PRIMARY KEY,
		parent TEXT NOT NULL REFERENCES gc_parents (id) DEFERRABLE INITIALLY DEFERRED,
		n INTEGER NOT NULL CHECK (n >= 0)
	)`,
	`INSERT INTO gc_parents (id) VALUES ('p')`,
}

var errRefused = errors.New("refused")

// rig is a Committer over gc_items that counts the transactions its
// Commit function was called for and can hold the first one open.
type rig struct {
	db      *storage.DB
	c       *Committer[*item]
	calls   atomic.Int64
	hold    chan struct{} // when set, Commit waits on it once
	holding chan struct{} // closed when Commit is held
}

func newRig(t *testing.T, db *storage.DB, opt Options) *rig {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range schema {
		if _, err := db.Write().ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{db: db}
	r.c = New(db, func(ctx context.Context, tx *sql.Tx, batch []*item) error {
		r.calls.Add(1)
		if r.hold != nil {
			h := r.hold
			r.hold = nil
			close(r.holding)
			<-h
		}
		for _, it := range batch {
			if it.refuse {
				return errRefused
			}
			if it.panics {
				panic("commit of " + it.id)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO gc_items (id, parent, n) VALUES ($1, $2, $3)`, it.id, it.parent, it.n); err != nil {
				return fmt.Errorf("insert %s: %w", it.id, err)
			}
		}
		return nil
	}, opt)
	return r
}

func (r *rig) stored(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := r.db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM gc_items WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// queued is how many requests wait for a committer.
func (r *rig) queued() int {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return len(r.c.queue)
}

// TestBatchOutcomes puts a set of items into one transaction (the first
// committer is held open until all of them are queued) and checks what
// each request is answered, what is stored, and how many transactions
// Commit ran for.
func TestBatchOutcomes(t *testing.T) {
	type want struct {
		err    error // nil, errRefused, ErrCommit, or errAny
		stored bool
	}
	errAny := errors.New("any error")
	good := func(id string) *item { return &item{id: id, parent: "p", n: 1} }
	for _, tc := range []struct {
		name  string
		items []*item
		want  []want
		calls int64 // transactions for the batch (the held one not counted)
	}{
		{
			name:  "every item stored in one transaction",
			items: []*item{good("a1"), good("a2"), good("a3"), good("a4")},
			want:  []want{{nil, true}, {nil, true}, {nil, true}, {nil, true}},
			calls: 1,
		},
		{
			name:  "an INSERT the database refuses fails its request alone",
			items: []*item{good("b1"), {id: "b2", parent: "p", n: -1}, good("b3")},
			want:  []want{{nil, true}, {errAny, false}, {nil, true}},
			calls: 1 + 3, // the batch, then each alone
		},
		{
			name:  "an item Commit refuses fails its request alone",
			items: []*item{good("c1"), good("c2"), {id: "c3", refuse: true}},
			want:  []want{{nil, true}, {nil, true}, {errRefused, false}},
			calls: 1 + 3,
		},
		{
			name:  "a panic in Commit fails its request alone",
			items: []*item{{id: "d1", panics: true}, good("d2")},
			want:  []want{{errAny, false}, {nil, true}},
			calls: 1 + 2,
		},
		{
			name:  "a failed COMMIT fails every request of the batch and retries none",
			items: []*item{good("e1"), {id: "e2", parent: "missing", n: 1}, good("e3")},
			want:  []want{{ErrCommit, false}, {ErrCommit, false}, {ErrCommit, false}},
			calls: 1,
		},
		{
			name:  "a batch every item of which is refused",
			items: []*item{{id: "f1", refuse: true}, {id: "f2", refuse: true}},
			want:  []want{{errRefused, false}, {errRefused, false}},
			calls: 1 + 2,
		},
	} {
		storagetest.Each(t, func(t *testing.T, db *storage.DB) {
			t.Run(tc.name, func(t *testing.T) {
				r := newRig(t, db, Options{Committers: 1})
				ctx := context.Background()
				// Hold the first transaction open so that every item of
				// the case queues behind it and goes into one batch.
				release := make(chan struct{})
				r.hold, r.holding = release, make(chan struct{})
				first := make(chan error, 1)
				go func() { first <- r.c.Do(ctx, &item{id: "held-" + tc.items[0].id, parent: "p"}) }()
				<-r.holding
				errs := make([]error, len(tc.items))
				var wg sync.WaitGroup
				for i, it := range tc.items {
					wg.Add(1)
					go func() { defer wg.Done(); errs[i] = r.c.Do(ctx, it) }()
				}
				for deadline := time.Now().Add(30 * time.Second); r.queued() < len(tc.items); {
					if time.Now().After(deadline) {
						t.Fatalf("%d of %d requests queued", r.queued(), len(tc.items))
					}
					time.Sleep(time.Millisecond)
				}
				r.calls.Store(0)
				close(release)
				if err := <-first; err != nil {
					t.Fatalf("held request: %v", err)
				}
				wg.Wait()
				for i, w := range tc.want {
					err := errs[i]
					switch {
					case w.err == nil && err != nil:
						t.Errorf("%s: %v, want it committed", tc.items[i].id, err)
					case w.err == errAny && err == nil, w.err != nil && w.err != errAny && !errors.Is(err, w.err):
						t.Errorf("%s: error %v, want %v", tc.items[i].id, err, w.err)
					}
					if got := r.stored(t, tc.items[i].id); got != map[bool]int{true: 1, false: 0}[w.stored] {
						t.Errorf("%s stored %d times, want stored=%v", tc.items[i].id, got, w.stored)
					}
				}
				if got := r.calls.Load(); got != tc.calls {
					t.Errorf("Commit ran for %d transactions, want %d", got, tc.calls)
				}
			})
		})
	}
}

// TestConcurrentWriters: many writers at once, every acknowledged item
// stored exactly once, and nothing acknowledged that is not stored.
func TestConcurrentWriters(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db, Options{})
		const writers, each = 16, 40
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := r.c.Do(context.Background(), &item{id: fmt.Sprintf("w%d-%d", w, i), parent: "p"}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		var n int
		if err := db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM gc_items`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != writers*each {
			t.Errorf("%d rows, want %d", n, writers*each)
		}
		t.Logf("%d items in %d transactions", writers*each, r.calls.Load())
	})
}

// TestContextEnds: a request whose context ends while it waits gets the
// context's error at once; its item may still be committed.
func TestContextEnds(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db, Options{Committers: 1})
		release := make(chan struct{})
		r.hold, r.holding = release, make(chan struct{})
		first := make(chan error, 1)
		go func() { first <- r.c.Do(context.Background(), &item{id: "held", parent: "p"}) }()
		<-r.holding
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.c.Do(ctx, &item{id: "late", parent: "p"}) }()
		for r.queued() < 1 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want context.Canceled", err)
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		// The committer still commits the queued item (not acknowledged,
		// not lost); wait for it to drain.
		for deadline := time.Now().Add(30 * time.Second); r.stored(t, "late") == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the queued item of a request that gave up was never committed")
			}
		}
	})
}

// shared commits n items in one batch (held behind a first transaction
// until all are queued), so that the next batch may gather: requests
// overlapped.
func (r *rig) shared(t *testing.T, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	r.hold, r.holding = release, make(chan struct{})
	first := make(chan error, 1)
	go func() { first <- r.c.Do(ctx, &item{id: prefix + "-held", parent: "p"}) }()
	<-r.holding
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.c.Do(ctx, &item{id: fmt.Sprintf("%s%d", prefix, i), parent: "p"}); err != nil {
				t.Error(err)
			}
		}()
	}
	for r.queued() < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestGathering: once requests overlap (a shared batch), requests that
// keep arriving share batches (the committer waits, at most Linger, for
// companions). With Linger negative (no gathering) the same arrivals
// commit one by one: the control that shows the test can tell.
func TestGathering(t *testing.T) {
	const arrivals, spacing = 10, 50 * time.Millisecond
	for _, tc := range []struct {
		name       string
		linger     time.Duration
		minBatches int64
		maxBatches int64
	}{
		// 4, 5, 1 items: each batch waits for one more than the last
		// (the shared batch before them held 3).
		{name: "gathering", linger: 2 * time.Second, minBatches: 1, maxBatches: 4},
		{name: "no gathering", linger: -1, minBatches: arrivals - 3, maxBatches: arrivals},
	} {
		storagetest.Each(t, func(t *testing.T, db *storage.DB) {
			t.Run(tc.name, func(t *testing.T) {
				r := newRig(t, db, Options{Committers: 1, Linger: tc.linger})
				r.shared(t, "b", 3)
				before := r.c.Stats()
				var wg sync.WaitGroup
				errs := make([]error, arrivals)
				took := make([]time.Duration, arrivals)
				for i := range arrivals {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t0 := time.Now()
						errs[i] = r.c.Do(context.Background(), &item{id: fmt.Sprintf("g%d", i), parent: "p"})
						took[i] = time.Since(t0)
					}()
					time.Sleep(spacing)
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("g%d: %v", i, err)
					} else if r.stored(t, fmt.Sprintf("g%d", i)) != 1 {
						t.Errorf("g%d acknowledged, not stored", i)
					}
					// Waiting is bounded by Linger (plus the commit).
					if bound := max(tc.linger, 0) + 5*time.Second; took[i] > bound {
						t.Errorf("g%d took %v, more than Linger + 5 s", i, took[i])
					}
				}
				st := r.c.Stats()
				if items := st.Items - before.Items; items != arrivals {
					t.Errorf("Stats: %d items, want %d", items, arrivals)
				}
				if n := st.Batches - before.Batches; n < tc.minBatches || n > tc.maxBatches {
					t.Errorf("%d arrivals %v apart formed %d batches, want %d to %d", arrivals, spacing, n, tc.minBatches, tc.maxBatches)
				}
			})
		})
	}
}

// TestNoWaitWithoutOverlap: a request never waits for companions when
// requests do not overlap — made one after another, however quickly, or
// arriving after the system was quiet for 4×Linger, though the batch
// before held several items.
func TestNoWaitWithoutOverlap(t *testing.T) {
	const linger = time.Second
	check := func(t *testing.T, r *rig, id string) {
		t.Helper()
		t0 := time.Now()
		if err := r.c.Do(context.Background(), &item{id: id, parent: "p"}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(t0); took >= linger/2 {
			t.Errorf("%s took %v (Linger %v): it waited for companions", id, took, linger)
		}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, r *rig)
	}{
		{"one after another", func(t *testing.T, r *rig) {
			for i := range 5 {
				check(t, r, fmt.Sprintf("s%d", i))
			}
		}},
		{"after quiet", func(t *testing.T, r *rig) {
			r.shared(t, "b", 4)
			time.Sleep(4*linger + 100*time.Millisecond)
			check(t, r, "lone")
		}},
	} {
		storagetest.Each(t, func(t *testing.T, db *storage.DB) {
			t.Run(tc.name, func(t *testing.T) {
				tc.run(t, newRig(t, db, Options{Committers: 1, Linger: linger}))
			})
		})
	}
}
