// Package ratelimit counts requests against a limit that every replica of
// an installation shares: the counts live in the database (table
// rate_counts), not in one process, so three replicas behind a load
// balancer allow a key no more than one replica would.
//
// A limit is n requests in a sliding window. The window is cut into
// buckets; a request adds one to the current bucket and is allowed when the
// buckets inside the window, its own included, hold at most n. Requests
// refused are not counted, so a client that keeps calling over its limit is
// let in again as soon as its earlier requests leave the window. The window
// slides by whole buckets: a request can leave it up to one bucket length
// early, the price of one row per bucket instead of one per request.
//
// The count is exact across processes: every request for a key updates the
// same bucket row first, so concurrent requests for one key are serialised
// by that row's lock (PostgreSQL) or by the single writer (SQLite) before
// they read the total.
package ratelimit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/storage"
)

// Limiter is one named limit. It is safe for concurrent use and holds no
// state of its own.
type Limiter struct {
	db      *storage.DB
	name    string
	n       int
	bucket  time.Duration
	buckets int64
}

// New returns a limiter of n requests per window, counted in buckets of
// window/buckets. name keeps its keys apart from other limiters' in the
// shared table. n ≤ 0 or window ≤ 0 allows everything; buckets below 1, or
// so many that a bucket would be shorter than a microsecond, count as 1.
//
// With buckets = 1 and window = 24h a bucket is a UTC day (the Unix epoch
// starts at midnight UTC): a daily limit.
func New(db *storage.DB, name string, n int, window time.Duration, buckets int) *Limiter {
	if window <= 0 {
		n = 0
	}
	if buckets < 1 || window/time.Duration(buckets) < time.Microsecond {
		buckets = 1
	}
	return &Limiter{db: db, name: name, n: n, bucket: window / time.Duration(buckets), buckets: int64(buckets)}
}

// errOver rolls back a request that would pass the limit.
var errOver = errors.New("ratelimit: over the limit")

const (
	qCount = `INSERT INTO rate_counts (key, bucket, n) VALUES ($1, $2, 1)
		ON CONFLICT (key, bucket) DO UPDATE SET n = rate_counts.n + 1
		RETURNING n`
	qEarlier = `SELECT COALESCE(SUM(n), 0) FROM rate_counts WHERE key = $1 AND bucket > $2 AND bucket < $3`
	qPurge   = `DELETE FROM rate_counts WHERE key = $1 AND bucket <= $2`
)

// Allow counts one request for key at now and reports whether it is within
// the limit. A request refused is not counted. An error (the database
// unreachable) allows nothing; callers answer it as they answer any other
// database error.
func (l *Limiter) Allow(ctx context.Context, key string, now time.Time) (bool, error) {
	return l.AllowFrom(ctx, key, now, nil)
}

// AllowFrom is Allow for a count that did not start with the limiter: the
// first request of a bucket adds what seed returns (for a daily limit, the
// sends the database already holds for the day, made before this table
// counted them). seed runs at most once per key and bucket, while the
// bucket's row is locked, so it must not write to the database.
func (l *Limiter) AllowFrom(ctx context.Context, key string, now time.Time, seed func(context.Context) (int, error)) (bool, error) {
	if l.n <= 0 {
		return true, nil
	}
	if l.db == nil {
		return false, errors.New("ratelimit: no database")
	}
	k := l.name + ":" + key
	cur := now.UnixNano() / int64(l.bucket)
	oldest := cur - l.buckets // the newest bucket already out of the window
	err := l.db.InTx(ctx, func(tx *sql.Tx) error {
		var mine, earlier int64
		if err := l.db.QueryRowHot(ctx, tx, qCount, k, cur).Scan(&mine); err != nil {
			return err
		}
		if mine == 1 {
			// The first request of a bucket drops this key's buckets that
			// left the window, so the table holds at most `buckets` rows
			// per active key.
			if _, err := l.db.ExecHot(ctx, tx, qPurge, k, oldest); err != nil {
				return err
			}
			if seed != nil {
				s, err := seed(ctx)
				if err != nil {
					return err
				}
				if s > 0 {
					if _, err := tx.ExecContext(ctx, `UPDATE rate_counts SET n = n + $1 WHERE key = $2 AND bucket = $3`, s, k, cur); err != nil {
						return err
					}
					mine += int64(s)
				}
			}
			if mine > int64(l.n) {
				return errOver
			}
		} else if mine > int64(l.n) {
			return errOver
		}
		if l.buckets > 1 {
			if err := l.db.QueryRowHot(ctx, tx, qEarlier, k, oldest, cur).Scan(&earlier); err != nil {
				return err
			}
		}
		if mine+earlier > int64(l.n) {
			return errOver
		}
		return nil
	})
	if errors.Is(err, errOver) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ratelimit: %s: %w", l.name, err)
	}
	return true, nil
}

// Limit returns n, the requests allowed per window.
func (l *Limiter) Limit() int { return l.n }
