package audit

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Group commit. Write is how blocks audit events that change no other
// state (a read of a citizen's record, a plug-in call), and these come
// many at a time under load. Each in a transaction of its own would cost
// one commit (a synchronous WAL flush) and one round on the chain head
// apiece, and the head serialises them. Instead, Write queues its entry;
// a committer takes every entry queued (up to maxBatch) into one
// transaction with one head reservation and one head update
// (appendEntries), commits, and only then answers each writer. So
// Write's contract is unchanged: it returns nil only once its entry is
// committed in the chain, and an error means it was not acknowledged.
// While a committer commits, the next writers queue, which is what makes
// the batches: the busier the log, the larger they are, and a lone
// writer waits for nobody.
//
// SQLite has one writer, so one committer; PostgreSQL runs up to
// Chains/2 committers, each on a chain of its own (reserve's SKIP
// LOCKED), leaving chains free for Append in other transactions.
type group struct {
	mu         sync.Mutex
	queue      []*pending
	active     int // committers running
	committers int // the most that may run
}

// pending is an entry waiting for its commit; done gets the outcome once.
type pending struct {
	e    Entry
	done chan error
}

const (
	// maxBatch bounds one group commit's transaction.
	maxBatch = 256
	// commitTimeout bounds one group commit, which runs on behalf of many
	// callers and so under none of their contexts.
	commitTimeout = 30 * time.Second
)

// Write appends r in a transaction of its own, for events that change no
// other state (a read of a citizen's record, a failed sign-in). It
// returns once the entry is committed; concurrent writers share one
// transaction (group commit, above). When ctx ends first, Write returns
// its error and the entry may still be committed: not acknowledged, never
// lost.
func (l *Log) Write(ctx context.Context, r Record) (Entry, error) {
	e, err := l.entry(ctx, r)
	if err != nil {
		return Entry{}, err
	}
	p := &pending{e: e, done: make(chan error, 1)}
	g := &l.group
	g.mu.Lock()
	g.queue = append(g.queue, p)
	start := g.active < g.committers
	if start {
		g.active++
	}
	g.mu.Unlock()
	if start {
		// This writer commits (its own entry first among the queued),
		// so a lone writer waits for no other goroutine.
		l.commitQueued(context.WithoutCancel(ctx), p)
	}
	select {
	case err := <-p.done:
		if err != nil {
			return Entry{}, err
		}
		return p.e, nil // written before done was sent
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("audit: append %s: %w", r.Action, context.Cause(ctx))
	}
}

// commitQueued commits queued entries, a batch per transaction, until the
// queue is empty. A writer that commits (own) does so until its own entry
// is answered, then leaves what is still queued to a goroutine, so its
// caller is not kept serving others.
func (l *Log) commitQueued(ctx context.Context, own *pending) {
	g := &l.group
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxBatch)
		if n == 0 {
			g.active--
			g.queue = nil
			g.mu.Unlock()
			return
		}
		if own != nil && len(own.done) > 0 {
			g.mu.Unlock()
			go l.commitQueued(ctx, nil)
			return
		}
		batch := make([]*pending, n)
		copy(batch, g.queue)
		g.queue = g.queue[n:]
		g.mu.Unlock()

		err := l.commitBatch(ctx, batch)
		if err != nil && len(batch) > 1 {
			// One entry the database refuses must not cost the others
			// theirs: each alone, in a transaction of its own.
			for _, p := range batch {
				p.done <- l.commitBatch(ctx, []*pending{p})
			}
			continue
		}
		for _, p := range batch {
			p.done <- err
		}
	}
}

func (l *Log) commitBatch(ctx context.Context, batch []*pending) error {
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	es := make([]*Entry, len(batch))
	for i, p := range batch {
		es[i] = &p.e
	}
	return l.db.InTx(ctx, func(tx *sql.Tx) error { return l.appendEntries(ctx, tx, es) })
}
