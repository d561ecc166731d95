package audit

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/internal/storage/groupcommit"
)

// Group commit. Write is how blocks audit events that change no other
// state (a read of a citizen's record, a plug-in call), and these come
// many at a time under load. Each in a transaction of its own would cost
// one commit (a synchronous WAL flush) and one round on the chain head
// apiece, and the head serialises them. Instead Write hands its entry to
// a groupcommit.Committer (internal/storage/groupcommit): a transaction
// takes every entry queued (up to 256) with one head reservation and one
// head update (appendEntries), commits, and only then answers each
// writer. So Write's contract is unchanged: it returns the entry only
// once it is committed in the chain, and an error means it was not
// acknowledged. If the shared transaction fails before its COMMIT, each
// entry is tried again alone, so an entry the database refuses costs no
// other writer theirs; if the COMMIT fails, every writer of the batch
// gets the error (ADR 37, ADR 59).
//
// SQLite has one writer, so one committer; PostgreSQL runs up to
// Chains/2 committers, each on a chain of its own (reserve's SKIP
// LOCKED), leaving chains free for Append in other transactions.

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
	if err := l.writes.Do(ctx, &e); err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", r.Action, err)
	}
	return e, nil
}

// WriteStats counts Write's shared transactions and the entries they
// held.
func (l *Log) WriteStats() groupcommit.Stats { return l.writes.Stats() }
