package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/portico-gov/portico/internal/ratelimit"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// t0 is the start of a minute, so bucket edges in the cases below fall
// where the comments say.
var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// step is one request in a case: at an offset from t0, for a key, with
// the answer expected.
type step struct {
	at    time.Duration
	key   string
	allow bool
}

func TestAllow(t *testing.T) {
	cases := []struct {
		name    string
		n       int
		window  time.Duration
		buckets int
		steps   []step
	}{
		{"n in a window, then refused", 3, time.Minute, 6, []step{
			{0, "a", true}, {time.Second, "a", true}, {2 * time.Second, "a", true},
			{3 * time.Second, "a", false}, {59 * time.Second, "a", false},
		}},
		{"the window slides by buckets", 3, time.Minute, 6, []step{
			{0, "a", true}, {30 * time.Second, "a", true}, {31 * time.Second, "a", true},
			{59 * time.Second, "a", false},
			{60 * time.Second, "a", true},  // the first request's bucket left the window
			{61 * time.Second, "a", false}, // the two at 30 s are still in it
			{90 * time.Second, "a", true}, {91 * time.Second, "a", true},
		}},
		{"refused requests are not counted", 1, time.Second, 1, []step{
			{0, "a", true}, {100 * time.Millisecond, "a", false}, {900 * time.Millisecond, "a", false},
			{time.Second, "a", true},
		}},
		{"keys are counted apart", 1, time.Minute, 12, []step{
			{0, "a", true}, {0, "b", true}, {time.Second, "a", false}, {time.Second, "b", false},
		}},
		{"a daily bucket is a UTC day", 2, 24 * time.Hour, 1, []step{
			{0, "s", true}, {13 * time.Hour, "s", true}, {13*time.Hour + 59*time.Minute, "s", false},
			{14 * time.Hour, "s", true}, // 00:00 UTC the next day
		}},
		{"no limit", 0, time.Minute, 6, []step{
			{0, "a", true}, {0, "a", true}, {0, "a", true},
		}},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				l := ratelimit.New(db, c.name, c.n, c.window, c.buckets)
				for i, s := range c.steps {
					got, err := l.Allow(ctx, s.key, t0.Add(s.at))
					if err != nil {
						t.Fatal(err)
					}
					if got != s.allow {
						t.Fatalf("step %d (%s at +%s): allowed %v, want %v", i, s.key, s.at, got, s.allow)
					}
				}
			})
		}
		t.Run("limiters are counted apart by name", func(t *testing.T) {
			a, b := ratelimit.New(db, "one", 1, time.Minute, 1), ratelimit.New(db, "two", 1, time.Minute, 1)
			for _, l := range []*ratelimit.Limiter{a, b} {
				if ok, err := l.Allow(ctx, "k", t0); err != nil || !ok {
					t.Fatalf("first request: %v %v", ok, err)
				}
			}
		})
		t.Run("a seed counts once per bucket", func(t *testing.T) {
			l := ratelimit.New(db, "seeded", 3, 24*time.Hour, 1)
			seeds := 0
			seed := func(context.Context) (int, error) { seeds++; return 2, nil }
			want := []bool{true, false, false}
			for i, w := range want {
				if ok, err := l.AllowFrom(ctx, "s", t0.Add(time.Duration(i)*time.Minute), seed); err != nil || ok != w {
					t.Fatalf("request %d: %v %v, want %v", i, ok, err, w)
				}
			}
			if seeds != 1 {
				t.Fatalf("seeded %d times", seeds)
			}
		})
		t.Run("old buckets are purged", func(t *testing.T) {
			l := ratelimit.New(db, "purged", 100, time.Minute, 6)
			for i := range 30 {
				if _, err := l.Allow(ctx, "k", t0.Add(time.Duration(i)*10*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			var rows int
			if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM rate_counts WHERE key = 'purged:k'`).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows > 6 {
				t.Fatalf("%d bucket rows kept for one key, want at most 6", rows)
			}
		})
	})
}

// TestSharedAcrossProcesses: three handles on one database, as three
// replicas have, hammered at once, allow exactly the limit between them.
func TestSharedAcrossProcesses(t *testing.T) {
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			u := storagetest.MigratedURL(t, d)
			const n, callers, each = 25, 12, 10
			var limiters []*ratelimit.Limiter
			for range 3 {
				db, err := storage.Open(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				limiters = append(limiters, ratelimit.New(db, "shared", n, time.Hour, 4))
			}
			var allowed atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, callers*each)
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						ok, err := limiters[i%3].Allow(ctx, "k", t0)
						if err != nil {
							errs <- err
							return
						}
						if ok {
							allowed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if got := allowed.Load(); got != n {
				t.Fatalf("%d requests allowed across three handles, want exactly %d", got, n)
			}
		})
	}
}

// BenchmarkAllow measures one request's check: the shared limiter on each
// engine beside the in-process limiter it replaces (golang.org/x/time/rate,
// as the payments API used; the Notify API's ring was of the same cost).
// Each iteration is a different key's first or later request in a bucket,
// as under real traffic from many keys.
func BenchmarkAllow(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		var mu sync.Mutex
		ls := map[string]*rate.Limiter{}
		keys := benchKeys()
		b.ResetTimer()
		for i := range b.N {
			mu.Lock()
			l := ls[keys[i%len(keys)]]
			if l == nil {
				l = rate.NewLimiter(1e9, 1e9)
				ls[keys[i%len(keys)]] = l
			}
			l.Allow()
			mu.Unlock()
		}
	})
	for _, d := range storagetest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db, err := storage.Open(ctx, storagetest.MigratedURL(b, d))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			l := ratelimit.New(db, "bench", 1<<30, time.Minute, 12)
			keys := benchKeys()
			now := time.Now()
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Allow(ctx, keys[i%len(keys)], now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchKeys() []string {
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "service-" + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	return keys
}
