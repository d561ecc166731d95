package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Priority of people's requests over bulk background work (ADR 74).
//
// A bulk send (a million reminders) and a person's page share two CPUs
// and, on SQLite, one writer. Left alone the bulk work takes both: each
// dashboard request audits its inbox read, and that write queued behind
// the bulk transactions (issue 14: the dashboard fell to a fifth of its
// idle rate in one process and to a twelfth with a separate worker).
//
// The rule: a request being served is foreground work (Foreground); a
// bulk step (InBulkTx, and the steps that call Yield) is background
// work, and before it begins it waits while foreground work is in
// flight, for at most the bulk yield (SetBulkYield). While people are
// being served, bulk steps pass one at a time (the yield is taken under
// one lock), each after a pause of at most the bulk yield, so the bulk
// work slows down but never stops; when no request is in flight it does
// not wait at all. Nothing is acknowledged earlier or skipped: the
// foreground's own transactions are unchanged, and the bulk work does
// the same transactions, later.
//
// On SQLite the foreground of every process on the database counts: a
// process serving requests holds a shared lock (flock) on a file beside
// the database, PATH-priority, while any is in flight, and a worker
// process (--role worker) tries for the exclusive lock to learn whether
// one does, so a separate worker yields to the web process as the
// worker goroutines of one process do. On PostgreSQL, whose replicas
// need not share a machine, only this process's requests count; a
// separate worker gives way by its lower CPU priority (--worker-nice).

// DefaultBulkYield is how long a bulk step waits at most for people's
// requests in flight unless SetBulkYield says otherwise.
const DefaultBulkYield = 50 * time.Millisecond

// priority is a DB's account of foreground work (see above).
type priority struct {
	inFlight atomic.Int64 // requests of this process being served
	yieldNS  atomic.Int64 // the bulk yield; 0: none
	yieldMu  sync.Mutex   // bulk steps yield one at a time
	gate     *gate        // SQLite: the cross-process flag; nil elsewhere
}

// SetBulkYield sets how long a bulk step waits at most while people's
// requests are in flight; 0 turns the yielding off.
func (db *DB) SetBulkYield(d time.Duration) { db.prio.yieldNS.Store(int64(max(d, 0))) }

// Foreground marks a person's request in flight until the returned
// function is called (once). Bulk steps of this process, and on SQLite
// of the other processes on the same database, wait for it (Yield).
func (db *DB) Foreground() (done func()) {
	if db.prio.inFlight.Add(1) == 1 && db.prio.gate != nil {
		db.prio.gate.hold(&db.prio.inFlight)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if db.prio.inFlight.Add(-1) == 0 && db.prio.gate != nil {
				db.prio.gate.release(&db.prio.inFlight)
			}
		})
	}
}

// foregroundBusy reports whether people's requests are in flight: in this
// process, or (SQLite) in another process on the same database.
func (db *DB) foregroundBusy() bool {
	if db.prio.inFlight.Load() > 0 {
		return true
	}
	if db.Dialect == SQLite && db.waiting.Load() > 0 {
		// Transactions waiting for the one writer (InTx): an audited
		// read's among them.
		return true
	}
	return db.prio.gate != nil && db.prio.gate.heldElsewhere()
}

// Yield is called by background work before a bulk step (a transaction
// of a batch, a batch's emails handed to the SMTP server): while
// people's requests are in flight it waits, one bulk step at a time, until
// none is or the bulk yield has passed, whichever is first. It returns at
// once when nothing is in flight, and early when ctx ends (the step then
// fails on ctx as it would have).
func (db *DB) Yield(ctx context.Context) {
	d := time.Duration(db.prio.yieldNS.Load())
	if d <= 0 || !db.foregroundBusy() {
		return
	}
	db.prio.yieldMu.Lock()
	defer db.prio.yieldMu.Unlock()
	deadline := time.Now().Add(d)
	for db.foregroundBusy() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
}
