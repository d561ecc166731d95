package audit

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestAppendEntriesBatches: a group commit's batch (appendEntries with
// one head reservation for all) of any size is stored whole, in order,
// each entry linked to the one before, hashed as acknowledged, and
// naming its person.
func TestAppendEntriesBatches(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem, ID: "test"})
		l := New(db, platform.NewFakeClock(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)), nil)
		total := 0
		for _, n := range []int{1, 2, 31, 32, 33, 71} {
			es := make([]*Entry, n)
			for i := range es {
				e, err := l.entry(ctx, Record{Action: "test.chunk", Subject: fmt.Sprintf("batch%d-%d", n, i), Person: fmt.Sprintf("p%d", i%3)})
				if err != nil {
					t.Fatal(err)
				}
				es[i] = &e
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return l.appendEntries(ctx, tx, es) }); err != nil {
				t.Fatalf("batch of %d: %v", n, err)
			}
			total += n
			stored, err := l.List(ctx, Filter{AfterSeq: es[0].Seq - 1, Limit: n})
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != n {
				t.Fatalf("batch of %d: %d stored", n, len(stored))
			}
			for i, s := range stored {
				if s.Seq != es[i].Seq || s.Hash != es[i].Hash || s.Subject != es[i].Subject || s.PrevHash != es[i].PrevHash {
					t.Fatalf("batch of %d, entry %d: stored %+v, acknowledged %+v", n, i, s, *es[i])
				}
				if h, err := s.computeHash(); err != nil || h != s.Hash {
					t.Fatalf("batch of %d, entry %d: hash %s, recomputed %s (%v)", n, i, s.Hash, h, err)
				}
				if i > 0 && s.PrevHash != stored[i-1].Hash {
					t.Fatalf("batch of %d, entry %d does not link to the one before", n, i)
				}
			}
			// The head moved to the batch's last entry (on PostgreSQL
			// by the statement that inserts the last rows).
			var head string
			if err := db.Read().QueryRowContext(ctx, `SELECT hash FROM audit_head WHERE id = $1`, ChainOf(es[n-1].Seq)).Scan(&head); err != nil {
				t.Fatal(err)
			}
			if head != es[n-1].Hash {
				t.Fatalf("batch of %d: head %s, last entry %s", n, head, es[n-1].Hash)
			}
			var persons int
			if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE person_id IS NOT NULL AND seq BETWEEN $1 AND $2`, es[0].Seq, es[n-1].Seq).Scan(&persons); err != nil {
				t.Fatal(err)
			}
			if persons != n {
				t.Fatalf("batch of %d: %d entries name their person", n, persons)
			}
		}
		var count int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'test.chunk'`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != total {
			t.Fatalf("%d entries stored, want %d", count, total)
		}
	})
}
