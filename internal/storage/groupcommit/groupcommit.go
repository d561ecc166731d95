// Package groupcommit lets concurrent requests share one database
// transaction (group commit) without acknowledging any of them early.
//
// A request that changes state on its own (a Notify send, an audit entry
// for a plug-in call) would otherwise pay a transaction of its own: on
// PostgreSQL a synchronous WAL flush per request, on SQLite a turn on the
// single writer connection and a WAL append. A Committer queues each
// request's item; one transaction takes every item queued (up to
// MaxBatch), writes them with the caller's Commit function and commits,
// and only then answers each request. While it commits, the next requests
// queue: the busier the system, the larger the batches, and a lone request
// waits for no other goroutine (it commits its own batch).
//
// Gathering. Left at that, a batch holds only what queued during the
// previous transaction, which on a 2-core machine is one or two requests
// (measured: 1.3–1.6 items a batch for the Notify API under load), so
// COMMIT and each batch's fixed work are paid almost per request. So
// when requests are overlapping — a batch of more than one item was
// taken less than 8×Linger ago, and another request arrived less than
// 4×Linger before this one — a committer first waits, at most Linger,
// until the queue holds one item more than the previous batch held (or
// MaxBatch): the handlers still on their way get in, and the batch size
// follows the load up until a wait brings no companion in time. Only one
// committer gathers at a time, and
// requests arriving meanwhile join its batch rather than starting
// committers of their own. A request arriving at a quiet system, or
// requests made one after another (each waiting for the last, however
// quickly), are never held: they commit at once, as before. Gathering is
// PostgreSQL's default only (DefaultLinger): on SQLite a COMMIT costs
// less than the wait, and with one writer a lingering committer holds
// every request behind it (ADR 77, amended).
//
// Contract of Do: nil means the item is committed; an error means it was
// not acknowledged. Nothing is acknowledged before its transaction
// commits, so "nothing acknowledged is lost" holds exactly as with a
// transaction per request.
//
// Failures. If the batch fails before COMMIT (Commit returns an error, or
// BEGIN fails), the transaction is rolled back and nothing of it is
// stored, so each item is tried again alone: one item the database
// refuses costs no other request its write. If COMMIT itself fails, the
// outcome is unknown to the client library (the server may have
// committed before the connection broke), so every request of the batch
// gets the error and none is retried: retrying could store an item twice.
package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-gov/portico/internal/storage"
)

// Commit writes a batch of items in tx. It must write only in tx (no
// other side effect), because a batch that fails is rolled back and its
// items are written again, each in a transaction of its own. It may set
// fields of the items (ids, sequence numbers): a retry sets them again.
type Commit[T any] func(ctx context.Context, tx *sql.Tx, batch []T) error

// Options tune a Committer. The zero value is a sensible default.
type Options struct {
	// Name prefixes errors ("notify send").
	Name string
	// Committers is the most transactions in flight at once. 0: one,
	// on both engines. SQLite has one writer; on PostgreSQL one
	// gathering committer measured fewer transactions and less CPU per
	// item than four (Session 13, ADR 77): four split the arrivals into
	// batches of one or two, each paying BEGIN, COMMIT and the job
	// insert, on the same two cores as the server.
	Committers int
	// MaxBatch bounds the items of one transaction. 0: 256.
	MaxBatch int
	// Timeout bounds one transaction, which runs on behalf of many
	// requests and so under none of their contexts. 0: 30 s.
	Timeout time.Duration
	// Linger is the most a batch waits for companions when requests are
	// arriving (package comment, Gathering): the most it adds to a
	// request's latency. 0: DefaultLinger on PostgreSQL, never on
	// SQLite; negative: never wait.
	Linger time.Duration
}

// DefaultLinger is Options.Linger's default, chosen by measuring
// BenchmarkNotifyAPISend (docs/performance.md, Session 13): long enough
// for the handlers in flight on a 2-core machine to reach the queue,
// short beside a request's own latency under that load (milliseconds).
// It is PostgreSQL's default only: there a COMMIT is a WAL flush and a
// round trip, and a larger batch saves more than the wait costs (sends
// 2,965 → 3,952/s). SQLite's COMMIT is an in-process WAL append that
// costs less than the wait: measured on a quiet machine, lingering cut
// SQLite's sends from 5,504 to 4,218/s and client-credential grants from
// 8,463 to 4,970/s (medians of 3 alternating rounds), though each used
// less CPU (ADR 77, amended).
const DefaultLinger = 500 * time.Microsecond

// Committer batches items of one kind into shared transactions.
type Committer[T any] struct {
	db     *storage.DB
	commit Commit[T]
	opt    Options

	mu        sync.Mutex
	queue     []*request[T]
	active    int       // committers running
	gathering bool      // a committer waits for companions (wake)
	want      int       // queue length that ends the gathering
	last      time.Time // the latest arrival
	lastBatch int       // items of the batch taken last
	shared    time.Time // when a batch of more than one item was taken last
	wake      chan struct{}

	batches, items atomic.Int64 // transactions tried first and their items (Stats)
}

// Stats counts the batches a Committer has written (shared
// transactions, not the retries of their items alone) and the items they
// held, so that items/batch can be measured (bench/notify_test.go).
type Stats struct {
	Batches, Items int64
}

// Stats returns the counts since New.
func (c *Committer[T]) Stats() Stats {
	return Stats{Batches: c.batches.Load(), Items: c.items.Load()}
}

// request is an item waiting for its commit; done gets the outcome once.
type request[T any] struct {
	item T
	done chan error
}

// ErrCommit wraps the error of a failed COMMIT: the batch's outcome is
// unknown, so its requests were not retried.
var ErrCommit = errors.New("commit failed")

// New returns a Committer writing with commit on db.
func New[T any](db *storage.DB, commit Commit[T], opt Options) *Committer[T] {
	if opt.Committers <= 0 {
		opt.Committers = 1
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Name == "" {
		opt.Name = "group commit"
	}
	if opt.Linger == 0 {
		opt.Linger = DefaultLinger
		if db.Dialect == storage.SQLite {
			opt.Linger = -1
		}
	}
	return &Committer[T]{db: db, commit: commit, opt: opt, wake: make(chan struct{}, 1)}
}

// Do queues item and returns once the transaction that holds it has
// committed (nil) or failed (its error). When ctx ends first, Do returns
// ctx's error at once and the item may still commit: not acknowledged,
// but never lost once acknowledged.
func (c *Committer[T]) Do(ctx context.Context, item T) error {
	r := &request[T]{item: item, done: make(chan error, 1)}
	now := time.Now()
	c.mu.Lock()
	c.queue = append(c.queue, r)
	busy := now.Sub(c.last) < 4*c.opt.Linger
	c.last = now
	// While a committer gathers, this request joins its batch.
	start := c.active < c.opt.Committers && !c.gathering
	if start {
		c.active++
	}
	if c.gathering && len(c.queue) >= c.want {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	if start {
		// This request commits (its own item first among the queued), so
		// a lone request waits for no other goroutine.
		c.run(context.WithoutCancel(ctx), r, busy)
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", c.opt.Name, context.Cause(ctx))
	}
}

// run commits queued items, a batch per transaction, until the queue is
// empty. A request that commits (own) does so until its own item is
// answered, then leaves what is still queued to a goroutine, so that its
// caller is not kept serving others. busy says whether requests are
// arriving (another came shortly before own): only then may the first
// batch gather; the batches after it may, since requests queued while
// the previous one committed. Either gathers only shortly after a batch
// of more than one (requests overlap: package comment).
func (c *Committer[T]) run(ctx context.Context, own *request[T], busy bool) {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.gathering {
			// Nothing to do, or the committer that gathers takes what
			// is queued (and commits again after its batch if more
			// arrives, so nothing is stranded).
			c.active--
			if len(c.queue) == 0 {
				c.queue = nil
			}
			c.mu.Unlock()
			return
		}
		if own != nil && len(own.done) > 0 {
			c.mu.Unlock()
			go c.run(ctx, nil, true)
			return
		}
		if busy && c.opt.Linger > 0 && time.Since(c.shared) < 8*c.opt.Linger {
			c.gather()
		}
		busy = true
		n := min(len(c.queue), c.opt.MaxBatch)
		c.lastBatch = n
		if n > 1 {
			c.shared = time.Now()
		}
		batch := make([]*request[T], n)
		copy(batch, c.queue)
		clear(c.queue[:n]) // let the answered requests be collected
		c.queue = c.queue[n:]
		c.mu.Unlock()
		c.commitBatch(ctx, batch)
	}
}

// gather waits, at most Linger, until the queue holds one item more than
// the previous batch (or MaxBatch). It is called and returns with c.mu
// held; the queue is not empty.
func (c *Committer[T]) gather() {
	c.want = min(c.lastBatch+1, c.opt.MaxBatch)
	if len(c.queue) >= c.want {
		return
	}
	c.gathering = true
	select { // a stale wake from an earlier gathering
	case <-c.wake:
	default:
	}
	c.mu.Unlock()
	t := time.NewTimer(c.opt.Linger)
	select {
	case <-c.wake:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	c.gathering = false
}

// commitBatch writes batch in one transaction and answers every request.
func (c *Committer[T]) commitBatch(ctx context.Context, batch []*request[T]) {
	c.batches.Add(1)
	c.items.Add(int64(len(batch)))
	err := c.tx(ctx, batch)
	if err != nil && len(batch) > 1 && !errors.Is(err, ErrCommit) {
		// Nothing of the batch was stored: each alone, so that one item
		// the database refuses costs no other its write.
		for _, r := range batch {
			r.done <- c.tx(ctx, []*request[T]{r})
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}

func (c *Committer[T]) tx(ctx context.Context, batch []*request[T]) (err error) {
	defer func() {
		// A panic in Commit must not leave every queued request waiting
		// forever: InTx has rolled back, and the batch fails like any
		// other failure before COMMIT.
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: panic: %v", c.opt.Name, p)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	items := make([]T, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	written := false
	err = c.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := c.commit(ctx, tx, items); err != nil {
			return err
		}
		written = true
		return nil
	})
	switch {
	case err == nil:
		return nil
	case written:
		// InTx failed after Commit succeeded: the COMMIT failed.
		return fmt.Errorf("%s: %w: %w", c.opt.Name, ErrCommit, err)
	}
	return fmt.Errorf("%s: %w", c.opt.Name, err)
}
