package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func newLog(t *testing.T, db *storage.DB) *audit.Log {
	t.Helper()
	signer, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	anchors, err := audit.OpenAnchors(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { anchors.Close() })
	return audit.New(db, platform.NewFakeClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)), signer, audit.WithAnchors(anchors))
}

func seed(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorStaff, ID: "u1"})
	for i := 1; i <= n; i++ {
		if _, err := l.Write(ctx, audit.Record{Action: "profile.read", Subject: fmt.Sprintf("citizen:%d", i), Detail: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

func exec(t *testing.T, db *storage.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Write().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name       string
		checkpoint bool
		tamper     func(t *testing.T, db *storage.DB)
		wantSeq    int64 // 0: chain is fine
		wantReason string
	}{
		{name: "untouched", checkpoint: true, tamper: func(*testing.T, *storage.DB) {}},
		{
			name: "edited detail",
			tamper: func(t *testing.T, db *storage.DB) {
				exec(t, db, `UPDATE audit_entries SET detail = '{"i":99}' WHERE seq = 3`)
			},
			wantSeq:    3,
			wantReason: "edited",
		},
		{
			name: "edited actor",
			tamper: func(t *testing.T, db *storage.DB) {
				exec(t, db, `UPDATE audit_entries SET actor = 'staff:someone-else' WHERE seq = 2`)
			},
			wantSeq:    2,
			wantReason: "edited",
		},
		{
			name: "edited and rehashed",
			tamper: func(t *testing.T, db *storage.DB) {
				exec(t, db, `UPDATE audit_entries SET hash = 'feedface' WHERE seq = 2`)
			},
			wantSeq:    2,
			wantReason: "edited",
		},
		{
			name:       "deleted from the middle",
			tamper:     func(t *testing.T, db *storage.DB) { exec(t, db, `DELETE FROM audit_entries WHERE seq = 3`) },
			wantSeq:    3,
			wantReason: "deleted",
		},
		{
			name: "reordered",
			tamper: func(t *testing.T, db *storage.DB) {
				// Swap the contents of entries 2 and 3, keeping numbers.
				exec(t, db, `UPDATE audit_entries SET seq = -2 WHERE seq = 2`)
				exec(t, db, `UPDATE audit_entries SET seq = 2 WHERE seq = 3`)
				exec(t, db, `UPDATE audit_entries SET seq = 3 WHERE seq = -2`)
			},
			wantSeq:    2,
			wantReason: "entry 2",
		},
		{
			name:       "newest deleted",
			tamper:     func(t *testing.T, db *storage.DB) { exec(t, db, `DELETE FROM audit_entries WHERE seq = 5`) },
			wantSeq:    5,
			wantReason: "deleted",
		},
		{
			name:       "newest deleted and head rewound",
			checkpoint: true,
			tamper: func(t *testing.T, db *storage.DB) {
				exec(t, db, `DELETE FROM audit_entries WHERE seq >= 4`)
				exec(t, db, `UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_entries WHERE seq = 3) WHERE id = 1`)
			},
			wantSeq:    4,
			wantReason: "deleted",
		},
		{
			name:       "forged checkpoint",
			checkpoint: true,
			tamper: func(t *testing.T, db *storage.DB) {
				exec(t, db, `UPDATE audit_checkpoints SET hash = 'forged'`)
			},
			wantSeq:    5,
			wantReason: "signature is invalid",
		},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				exec(t, db, `DELETE FROM audit_entries`)
				exec(t, db, `DELETE FROM audit_checkpoints`)
				exec(t, db, `UPDATE audit_head SET seq = 0, hash = '' WHERE id = 1`)
				l := newLog(t, db)
				seed(t, l, 5)
				if tt.checkpoint {
					if _, err := l.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
				}
				tt.tamper(t, db)
				rep, err := l.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tt.wantSeq == 0 {
					if !rep.OK || rep.Problem != nil || rep.Entries != 5 || rep.LastCheckpoint != 5 {
						t.Fatalf("untouched log: %+v %+v", rep, rep.Problem)
					}
					return
				}
				if rep.OK || rep.Problem == nil {
					t.Fatalf("tampering not detected: %+v", rep)
				}
				if rep.Problem.Seq != tt.wantSeq || !strings.Contains(rep.Problem.Reason, tt.wantReason) {
					t.Fatalf("problem = %+v, want seq %d with %q", rep.Problem, tt.wantSeq, tt.wantReason)
				}
			})
		}
	})
}

func TestConcurrentAppendsFormIntactChains(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		l := newLog(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, 80)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					_, err := l.Write(context.Background(), audit.Record{Action: "test.append", Subject: fmt.Sprintf("g%d-%d", g, i)})
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep, err := l.Verify(context.Background())
		if err != nil || !rep.OK || rep.Entries != 80 {
			t.Fatalf("Verify = %+v (%+v), %v", rep, rep.Problem, err)
		}
	})
}

func TestAppendCommitsWithTheChange(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		l := newLog(t, db)
		_ = db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := l.Append(ctx, tx, audit.Record{Action: "agency.create", Subject: "agency:x"}); err != nil {
				t.Fatal(err)
			}
			return fmt.Errorf("the change failed")
		})
		entries, err := l.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Fatalf("rolled-back audit entry survived: %+v", entries)
		}
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK {
			t.Fatalf("Verify after rollback = %+v, %v", rep, err)
		}
	})
}

func TestSignerKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "audit.key")
	a, err := audit.LoadOrCreateSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := audit.LoadOrCreateSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() {
		t.Fatalf("reloaded key differs: %s vs %s", a.KeyID(), b.KeyID())
	}
}

// TestChains: on PostgreSQL, transactions appending at the same time take
// different chains without waiting for each other; SQLite, with one
// writer, keeps one chain. Every chain is checkpointed and verified, and
// tampering in any chain is found.
func TestChains(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		l := newLog(t, db)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a wait on a held head would hang
		defer cancel()
		open := 1
		if db.Dialect == storage.Postgres {
			open = 3
		}
		var txs []*sql.Tx
		var chains []int
		for i := range open {
			tx, err := db.Write().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
			// Two appends in one transaction stay in the chain it holds.
			for range 2 {
				e, err := l.Append(ctx, tx, audit.Record{Action: "test.parallel", Subject: fmt.Sprintf("tx%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				chains = append(chains, audit.ChainOf(e.Seq))
			}
		}
		for _, tx := range txs {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		want := []int{1, 1}
		if open == 3 {
			want = []int{1, 1, 2, 2, 3, 3}
		}
		if fmt.Sprint(chains) != fmt.Sprint(want) {
			t.Fatalf("chains = %v, want %v", chains, want)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != int64(2*open) || rep.Chains != open || rep.Checkpoints != open {
			t.Fatalf("Verify = %+v (%+v), %v", rep, rep.Problem, err)
		}
		// Edit the last chain's first entry.
		target := audit.ChainBase(open) + 1
		exec(t, db, fmt.Sprintf(`UPDATE audit_entries SET subject = 'someone else' WHERE seq = %d`, target))
		rep, err = l.Verify(ctx)
		if err != nil || rep.OK || rep.Problem.Seq != target || !strings.Contains(rep.Problem.Reason, "edited") {
			t.Fatalf("after tampering: %+v (%+v), %v", rep, rep.Problem, err)
		}
	})
}

// TestEntryNamesTheClient: a person acting through an app (an OAuth
// client with their token) is recorded as the person, and the entry names
// the app; the log still verifies.
func TestEntryNamesTheClient(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		l := newLog(t, db)
		ctx := context.Background()
		tests := []struct {
			name   string
			actor  platform.Actor
			detail any
			want   string
		}{
			{"in the browser", platform.Actor{Kind: platform.ActorCitizen, ID: "ana"}, map[string]any{"count": 2}, `{"count":2}`},
			{"through an app", platform.Actor{Kind: platform.ActorCitizen, ID: "ana", Client: "tax-app"}, map[string]any{"count": 2}, `{"count":2,"via_client":"tax-app"}`},
			{"through an app, no detail", platform.Actor{Kind: platform.ActorCitizen, ID: "ana", Client: "tax-app"}, nil, `{"via_client":"tax-app"}`},
		}
		for _, tt := range tests {
			e, err := l.Write(platform.WithActor(ctx, tt.actor), audit.Record{Action: "case.list", Subject: "account:ana", Detail: tt.detail})
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if e.Actor != "citizen:ana" || string(e.Detail) != tt.want {
				t.Errorf("%s: actor %q detail %s, want citizen:ana %s", tt.name, e.Actor, e.Detail, tt.want)
			}
		}
		if _, err := l.Write(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: "ana", Client: "x"}), audit.Record{Action: "bad", Detail: []int{1}}); err == nil {
			t.Error("a detail that is not an object was accepted for an app's entry")
		}
	})
}

// TestGroupCommit: many concurrent writers, whose entries Write commits in
// shared transactions, each get back a committed entry with its own seq,
// every entry is stored exactly as acknowledged, and the chains verify
// (links, heads and a checkpoint over them).
func TestGroupCommit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		l := newLog(t, db)
		const writers, each = 32, 25
		got := make(chan audit.Entry, writers*each)
		errs := make(chan error, writers*each)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wctx := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorStaff, ID: fmt.Sprintf("w%d", w)})
				for i := range each {
					e, err := l.Write(wctx, audit.Record{Action: "test.group", Subject: fmt.Sprintf("w%d-%d", w, i), Detail: map[string]any{"i": i}})
					if err != nil {
						errs <- err
						continue
					}
					got <- e
				}
			}()
		}
		wg.Wait()
		close(got)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		acked := map[int64]audit.Entry{}
		for e := range got {
			if _, dup := acked[e.Seq]; dup {
				t.Fatalf("two writers were given seq %d", e.Seq)
			}
			acked[e.Seq] = e
		}
		var stored []audit.Entry
		for after := int64(0); ; {
			page, err := l.List(ctx, audit.Filter{AfterSeq: after, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			stored = append(stored, page...)
			after = page[len(page)-1].Seq
		}
		if len(stored) != writers*each || len(acked) != writers*each {
			t.Fatalf("stored %d entries, acknowledged %d, want %d", len(stored), len(acked), writers*each)
		}
		for _, s := range stored {
			a, ok := acked[s.Seq]
			if !ok || a.Hash != s.Hash || a.Subject != s.Subject || a.Actor != s.Actor {
				t.Fatalf("stored %+v, acknowledged %+v", s, a)
			}
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK || rep.Entries != writers*each {
			t.Fatalf("Verify = %+v (%+v), %v", rep, rep.Problem, err)
		}
	})
}

// TestWriteAfterCancel: a writer whose context has ended gets an error,
// and the log stays whole for the writers after it.
func TestWriteAfterCancel(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		l := newLog(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := l.Write(ctx, audit.Record{Action: "test.cancelled"}); err == nil {
			// The commit may win the race with ctx; then the entry is there.
			t.Log("the entry committed before the cancellation was seen")
		}
		e, err := l.Write(context.Background(), audit.Record{Action: "test.after"})
		if err != nil || e.Seq == 0 {
			t.Fatalf("Write after a cancelled one = %+v, %v", e, err)
		}
		rep, err := l.Verify(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("Verify = %+v (%+v), %v", rep, rep.Problem, err)
		}
	})
}
