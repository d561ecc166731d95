package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// attacker is someone with write access to the database (and, in one
// case, the signing key) but not to the anchor store. Its methods are what
// such a person can do with SQL and the published hash algorithm.
type attacker struct {
	t   *testing.T
	db  *storage.DB
	log *Log // for the key, in the case that grants it
}

func (a attacker) exec(q string, args ...any) {
	a.t.Helper()
	if _, err := a.db.Write().ExecContext(context.Background(), q, args...); err != nil {
		a.t.Fatalf("%s: %v", q, err)
	}
}

// rehash recomputes the links and hashes of chain 1 from entry from on and
// points the head at the result, as a careful forger would.
func (a attacker) rehash(from int64) {
	a.t.Helper()
	ctx := context.Background()
	rows, err := a.db.Read().QueryContext(ctx,
		`SELECT seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash FROM audit_entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq`,
		from-1, ChainBase(2))
	if err != nil {
		a.t.Fatal(err)
	}
	var entries []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			a.t.Fatal(err)
		}
		entries = append(entries, e)
	}
	rows.Close()
	prev := ""
	for _, e := range entries {
		if e.Seq < from {
			prev = e.Hash
			continue
		}
		e.PrevHash = prev
		h, err := e.computeHash()
		if err != nil {
			a.t.Fatal(err)
		}
		a.exec(`UPDATE audit_entries SET prev_hash = $1, hash = $2 WHERE seq = $3`, prev, h, e.Seq)
		prev = h
	}
	last := entries[len(entries)-1].Seq
	a.exec(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, last, prev)
}

// truncate deletes chain 1 from entry from on and rewinds the head to the
// entry before, so the chain that is left is consistent.
func (a attacker) truncate(from int64) {
	a.t.Helper()
	a.exec(`DELETE FROM audit_entries WHERE seq >= $1 AND seq <= $2`, from, ChainBase(2))
	a.exec(`UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_entries WHERE seq = $1) WHERE id = 1`, from-1)
}

// resign signs chain 1's head and stores the checkpoint in the database
// only: what someone holding the key, but unable to write anchors, can do.
func (a attacker) resign() {
	a.t.Helper()
	var seq int64
	var hash string
	if err := a.db.Read().QueryRowContext(context.Background(), `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		a.t.Fatal(err)
	}
	at := a.log.clock.Now().UTC().Truncate(time.Microsecond)
	sig := base64.RawURLEncoding.EncodeToString(ed25519.Sign(a.log.signer.key, checkpointMessage(seq, hash, at)))
	a.exec(`INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)`, seq, hash, at, a.log.signer.keyID, sig)
}

func write(t *testing.T, l *Log, n int) {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorStaff, ID: "u1"})
	for range n {
		if _, err := l.Write(ctx, Record{Action: "profile.read", Subject: "citizen:ana", Detail: map[string]any{"field": "address"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func checkpoint(t *testing.T, l *Log) {
	t.Helper()
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func fileAnchors(t *testing.T) *Anchors {
	t.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(t.TempDir(), "audit-anchor")), RawQuery: "create_dir=1&no_tmp_dir=1&metadata=skip"}
	a, err := OpenAnchors(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestVerifyFindsRewritesBelowAnchors: with the checkpoint rows in the
// database at the attacker's mercy, the anchors still reveal every
// rewrite of anchored entries, and the age limit reveals a chain whose
// checkpoints stopped. Each finding names what was found.
func TestVerifyFindsRewritesBelowAnchors(t *testing.T) {
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	// The usual history: entries 1-5, checkpoint, entries 6-8, checkpoint.
	usual := func(t *testing.T, l *Log, clock *platform.FakeClock) {
		write(t, l, 5)
		checkpoint(t, l)
		clock.Advance(time.Minute)
		write(t, l, 3)
		checkpoint(t, l)
	}
	// Checkpoints stop after entry 5; entries 6-8 come two hours later.
	stopped := func(t *testing.T, l *Log, clock *platform.FakeClock) {
		write(t, l, 5)
		checkpoint(t, l)
		clock.Advance(2 * time.Hour)
		write(t, l, 3)
	}
	tests := []struct {
		name    string
		history func(t *testing.T, l *Log, clock *platform.FakeClock)
		tamper  func(a attacker)
		want    []string // each must appear in some problem; none: intact
		wantSeq int64    // the first problem's entry
	}{
		{name: "untouched", history: usual, tamper: func(attacker) {}},
		{
			name:    "checkpoint rows deleted",
			history: usual,
			tamper:  func(a attacker) { a.exec(`DELETE FROM audit_checkpoints`) },
			want:    []string{"chain 1: the database has fewer checkpoints than the anchor store (0 against 2); 2 anchored checkpoints are missing from the database, the first at entry 5"},
			wantSeq: 5,
		},
		{
			name:    "checkpoints deleted and log truncated",
			history: usual,
			tamper: func(a attacker) {
				a.exec(`DELETE FROM audit_checkpoints`)
				a.truncate(7)
			},
			want: []string{
				"fewer checkpoints than the anchor store (0 against 2)",
				"entries 7 to 8 were deleted (the log ends at entry 6, but the anchored checkpoint of entry 8 shows it existed)",
			},
			wantSeq: 5,
		},
		{
			name:    "log truncated below the newest checkpoint, its row deleted",
			history: usual,
			tamper: func(a attacker) {
				a.exec(`DELETE FROM audit_checkpoints WHERE seq = 8`)
				a.truncate(6)
			},
			want: []string{
				"the first at entry 8: checkpoints were deleted",
				"entries 6 to 8 were deleted",
			},
			wantSeq: 8,
		},
		{
			name:    "edited and rehashed",
			history: usual,
			tamper: func(a attacker) {
				a.exec(`DELETE FROM audit_checkpoints`)
				a.exec(`UPDATE audit_entries SET subject = 'citizen:someone-else' WHERE seq = 3`)
				a.rehash(3)
			},
			want: []string{
				"fewer checkpoints than the anchor store",
				"entry 5 differs from the anchored checkpoint of the chain at that point",
			},
			wantSeq: 5,
		},
		{
			name:    "edited and rehashed after the first checkpoint, rows kept",
			history: usual,
			tamper: func(a attacker) {
				a.exec(`UPDATE audit_entries SET detail = '{"field":"nothing"}' WHERE seq = 7`)
				a.rehash(7)
			},
			want:    []string{"entry 8 differs from the anchored checkpoint"},
			wantSeq: 8,
		},
		{
			name:    "reordered and rehashed",
			history: usual,
			tamper: func(a attacker) {
				a.exec(`DELETE FROM audit_checkpoints`)
				// Swap entries 2 and 4 (numbers stay), then relink.
				a.exec(`UPDATE audit_entries SET seq = -2 WHERE seq = 2`)
				a.exec(`UPDATE audit_entries SET seq = 2 WHERE seq = 4`)
				a.exec(`UPDATE audit_entries SET seq = 4 WHERE seq = -2`)
				a.exec(`UPDATE audit_entries SET detail = '{"moved":true}' WHERE seq = 2`)
				a.rehash(2)
			},
			want:    []string{"entry 5 differs from the anchored checkpoint"},
			wantSeq: 5,
		},
		{
			name:    "rewritten and re-signed with the stolen key",
			history: usual,
			tamper: func(a attacker) {
				a.exec(`DELETE FROM audit_checkpoints`)
				a.exec(`UPDATE audit_entries SET actor = 'staff:someone-else' WHERE seq = 1`)
				a.rehash(1)
				a.resign()
			},
			want: []string{
				"the checkpoint of entry 8 does not match its anchor",
				"entry 5 differs from the anchored checkpoint",
			},
			wantSeq: 8,
		},
		{
			name:    "truncated after the last checkpoint, checkpoints stopped",
			history: stopped,
			tamper:  func(a attacker) { a.truncate(8) },
			want: []string{
				"chain 1: the newest anchored checkpoint (entry 5, signed 2026-11-24T09:00:00Z) is 2h0m0s old, more than the limit of 1h0m0s, while entries 6 to 7 came after it",
			},
			wantSeq: 6,
		},
		{
			name:    "checkpoints stopped, nothing deleted",
			history: stopped,
			tamper:  func(attacker) {},
			want:    []string{"while entries 6 to 8 came after it: checkpoints stopped"},
			wantSeq: 6,
		},
		{
			name: "never checkpointed",
			history: func(t *testing.T, l *Log, clock *platform.FakeClock) {
				write(t, l, 2)
				clock.Advance(90 * time.Minute)
			},
			tamper:  func(attacker) {},
			want:    []string{"chain 1 has no anchored checkpoint for entries 1 to 2 although the first was written 1h30m0s ago"},
			wantSeq: 1,
		},
		{
			name: "entries after a recent checkpoint",
			history: func(t *testing.T, l *Log, clock *platform.FakeClock) {
				write(t, l, 5)
				checkpoint(t, l)
				clock.Advance(30 * time.Minute)
				write(t, l, 3)
			},
			tamper: func(attacker) {},
		},
		{
			name: "idle log with an old checkpoint",
			history: func(t *testing.T, l *Log, clock *platform.FakeClock) {
				write(t, l, 5)
				checkpoint(t, l)
				clock.Advance(48 * time.Hour)
			},
			tamper: func(attacker) {},
		},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				a := attacker{t: t, db: db}
				a.exec(`DELETE FROM audit_entries`)
				a.exec(`DELETE FROM audit_checkpoints`)
				a.exec(`UPDATE audit_head SET seq = (id - 1) * 281474976710656, hash = ''`)
				signer, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"))
				if err != nil {
					t.Fatal(err)
				}
				clock := platform.NewFakeClock(start)
				l := New(db, clock, signer, WithAnchors(fileAnchors(t)), WithMaxCheckpointAge(time.Hour))
				a.log = l
				tt.history(t, l, clock)
				tt.tamper(a)
				rep, err := l.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(tt.want) == 0 {
					if !rep.OK || rep.Problem != nil {
						t.Fatalf("intact log failed: %+v", rep.Problems)
					}
					return
				}
				if rep.OK || rep.Problem == nil {
					t.Fatalf("not detected: %+v", rep)
				}
				var all []string
				for _, p := range rep.Problems {
					all = append(all, fmt.Sprintf("[%d] %s", p.Seq, p.Reason))
				}
				for _, w := range tt.want {
					if !strings.Contains(strings.Join(all, "\n"), w) {
						t.Errorf("no problem says %q; found:\n%s", w, strings.Join(all, "\n"))
					}
				}
				if rep.Problem.Seq != tt.wantSeq {
					t.Errorf("first problem at entry %d, want %d: %s", rep.Problem.Seq, tt.wantSeq, strings.Join(all, "\n"))
				}
			})
		}
	})
}

// TestCheckpointAnchors: each signed checkpoint lands in the anchor store
// once, a head that has not moved is not signed again, an anchor lost
// between the commit and the write is restored by the next run, and the
// store's listing reads back exactly what was signed.
func TestCheckpointAnchors(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		signer, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"))
		if err != nil {
			t.Fatal(err)
		}
		anchors := fileAnchors(t)
		clock := platform.NewFakeClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
		l := New(db, clock, signer, WithAnchors(anchors))
		if _, err := New(db, clock, signer).Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "no anchor store") {
			t.Fatalf("checkpoint without an anchor store: %v", err)
		}
		write(t, l, 3)
		first, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		again, err := l.Checkpoint(ctx)
		if err != nil || again != first {
			t.Fatalf("unmoved head signed again: %+v then %+v (%v)", first, again, err)
		}
		// Lose the anchor, as a crash after the commit would, then run in
		// a new process (which has anchored nothing yet).
		if err := anchors.bucket.Delete(ctx, anchorKey(first)); err != nil {
			t.Fatal(err)
		}
		if _, err := New(db, clock, signer, WithAnchors(anchors)).Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		stored, err := anchors.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored.Checkpoints) != 1 || len(stored.Unreadable) != 0 {
			t.Fatalf("anchors = %+v", stored)
		}
		got := stored.Checkpoints[0]
		if got.Seq != first.Seq || got.Hash != first.Hash || !got.At.Equal(first.At) || got.KeyID != first.KeyID || got.Signature != first.Signature {
			t.Fatalf("anchor %+v, want %+v", got, first)
		}
		// Putting it again is a no-op, not an error.
		if err := anchors.Put(ctx, first); err != nil {
			t.Fatal(err)
		}
		rep, err := l.Verify(ctx)
		if err != nil || !rep.OK || rep.Anchors != 1 || rep.Checkpoints != 1 || rep.Unanchored != 0 {
			t.Fatalf("Verify = %+v (%+v), %v", rep, rep.Problems, err)
		}
		// Junk in the store is reported, not skipped.
		if err := anchors.bucket.WriteAll(ctx, anchorPrefix+"notes.txt", []byte("hi"), nil); err != nil {
			t.Fatal(err)
		}
		rep, err = l.Verify(ctx)
		if err != nil || rep.OK || !strings.Contains(rep.Problem.Reason, "names no checkpoint") {
			t.Fatalf("junk anchor: %+v, %v", rep.Problem, err)
		}
	})
}

// TestCheckpointEveryN: an append that brings a chain to a multiple of N
// wakes RunCheckpoints, which signs and anchors the head without waiting
// for the periodic job.
func TestCheckpointEveryN(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		signer, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"))
		if err != nil {
			t.Fatal(err)
		}
		anchors := fileAnchors(t)
		l := New(db, platform.NewFakeClock(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)), signer, WithAnchors(anchors), WithCheckpointEvery(4))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); l.RunCheckpoints(ctx, slog.Default()) }()
		defer func() { cancel(); <-done }()
		write(t, l, 3)
		time.Sleep(100 * time.Millisecond)
		if s, err := anchors.List(ctx); err != nil || len(s.Checkpoints) != 0 {
			t.Fatalf("checkpoint before the 4th entry: %+v %v", s, err)
		}
		// The 4th entry is appended in a transaction that is still open
		// when the checkpointer wakes: it must sign what commits.
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := l.Append(ctx, tx, Record{Action: "profile.read", Subject: "citizen:ana"})
			time.Sleep(50 * time.Millisecond)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, err := anchors.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Checkpoints) == 1 {
				if s.Checkpoints[0].Seq != 4 {
					t.Fatalf("anchored %+v, want entry 4", s.Checkpoints[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint after the 4th entry: %+v", s)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
