package audit

import (
	"context"
	"fmt"
	"time"
)

// MaxRecent is the most entries Recent returns.
const MaxRecent = 1000

// Recent returns subject's entries of action made at or after since,
// newest first, at most limit (1 to MaxRecent). It is one range of the
// index (subject, action, at) read backwards and stopped at limit
// (migration 00032), so its cost is bounded whatever the subject's
// history. Entries made in the same microsecond on different chains come
// in no defined order.
func (l *Log) Recent(ctx context.Context, subject, action string, since time.Time, limit int) ([]Entry, error) {
	if limit <= 0 || limit > MaxRecent {
		limit = MaxRecent
	}
	rows, err := l.db.Read().QueryContext(ctx, `SELECT seq, at, actor, action, subject, agency_id, request_id, detail, prev_hash, hash FROM audit_entries
		WHERE subject = $1 AND action = $2 AND at >= $3 ORDER BY at DESC LIMIT $4`, subject, action, since.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("audit: recent: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: recent: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Count counts subject's entries of action made at or after since: a
// count over the same index range as Recent, so it grows with the
// entries in the window, not with the log.
func (l *Log) Count(ctx context.Context, subject, action string, since time.Time) (int, error) {
	var n int
	err := l.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE subject = $1 AND action = $2 AND at >= $3`,
		subject, action, since.UTC()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("audit: count: %w", err)
	}
	return n, nil
}
