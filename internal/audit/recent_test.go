package audit_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestRecent: a subject's entries of one action, newest first by time
// (not by seq: on PostgreSQL a later entry can land on a chain with
// smaller numbers), within the window and the limit, and Count agrees.
func TestRecent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem, ID: "test"})
		signer, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit.key"))
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		clock := platform.NewFakeClock(t0)
		l := audit.New(db, clock, signer)
		write := func(action, subject, label string) {
			t.Helper()
			if _, err := l.Write(ctx, audit.Record{Action: action, Subject: subject, Detail: map[string]any{"label": label}}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
		// "held" is appended first in a transaction that keeps its chain's
		// head; "later" goes to another chain on PostgreSQL (higher seq);
		// "last" comes after the commit on the first chain (lower seq
		// than "later" there, yet newer).
		tx, err := db.Write().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, tx, audit.Record{Action: "plugin.call", Subject: "plugin:a", Detail: map[string]any{"label": "held"}}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		if db.Dialect == storage.Postgres {
			write("plugin.call", "plugin:a", "later")
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if db.Dialect != storage.Postgres {
			write("plugin.call", "plugin:a", "later")
		}
		write("plugin.call", "plugin:a", "last")
		write("plugin.refuse", "plugin:a", "refused")
		write("plugin.call", "plugin:b", "other plug-in")

		labels := func(es []audit.Entry) []string {
			var out []string
			for _, e := range es {
				var d struct{ Label string }
				if err := jsonUnmarshal(e.Detail, &d); err != nil {
					t.Fatal(err)
				}
				out = append(out, d.Label)
			}
			return out
		}
		tests := []struct {
			name    string
			subject string
			action  string
			since   time.Time
			limit   int
			want    []string
			count   int
		}{
			{"all calls, newest first", "plugin:a", "plugin.call", time.Time{}, 0, []string{"last", "later", "held"}, 3},
			{"limited", "plugin:a", "plugin.call", time.Time{}, 2, []string{"last", "later"}, 3},
			{"since excludes older", "plugin:a", "plugin.call", t0.Add(time.Minute), 10, []string{"last", "later"}, 2},
			{"since is inclusive", "plugin:a", "plugin.call", t0, 10, []string{"last", "later", "held"}, 3},
			{"another action", "plugin:a", "plugin.refuse", time.Time{}, 10, []string{"refused"}, 1},
			{"another subject", "plugin:b", "plugin.call", time.Time{}, 10, []string{"other plug-in"}, 1},
			{"nothing", "plugin:c", "plugin.call", time.Time{}, 10, nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := l.Recent(ctx, tt.subject, tt.action, tt.since, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if g := labels(got); !slices.Equal(g, tt.want) {
					t.Errorf("Recent = %q, want %q", g, tt.want)
				}
				n, err := l.Count(ctx, tt.subject, tt.action, tt.since)
				if err != nil {
					t.Fatal(err)
				}
				if n != tt.count {
					t.Errorf("Count = %d, want %d", n, tt.count)
				}
			})
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
