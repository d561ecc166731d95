package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Sequence gives the next positions to up to limit committed events that
// have none, oldest append first, and returns how many it sequenced.
//
// Only one sequencer runs at a time: it first locks the event_sequence row
// (FOR UPDATE on PostgreSQL, the single writer on SQLite), and the positions
// it hands out become visible together when it commits. A producing
// transaction that commits while a sequencer runs is simply sequenced by
// the next one, after every position already given. Positions therefore
// appear in increasing order with no gaps and are never filled in below
// what a consumer has already seen.
func Sequence(ctx context.Context, db *storage.DB, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	// A cheap read first, so idle polling takes no write lock.
	var pending int
	if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM event_log WHERE position IS NULL LIMIT 1) p`).Scan(&pending); err != nil {
		return 0, fmt.Errorf("events: sequence: %w", err)
	}
	if pending == 0 {
		return 0, nil
	}
	lock := ""
	if db.Dialect == storage.Postgres {
		lock = " FOR UPDATE"
	}
	var n int
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		var head int64
		if err := tx.QueryRowContext(ctx, `SELECT position FROM event_sequence WHERE id = 1`+lock).Scan(&head); err != nil {
			return err
		}
		// Assign in one statement; ids order events appended by one
		// transaction as they were emitted.
		res, err := tx.ExecContext(ctx, `UPDATE event_log SET position = CAST($1 AS BIGINT) + s.rn
			FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn
			      FROM (SELECT id FROM event_log WHERE position IS NULL ORDER BY id LIMIT $2) u) s
			WHERE event_log.id = s.id`, head, limit)
		if err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		if err != nil {
			return err
		}
		n = int(affected)
		if n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE event_sequence SET position = $1 WHERE id = 1`, head+affected)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("events: sequence: %w", err)
	}
	return n, nil
}

// Head is the state of the log: the last position given out and how many
// committed events still wait for one.
type Head struct {
	Position    int64 `json:"position"`
	Unsequenced int64 `json:"unsequenced"`
}

// LogHead reads the head of the log.
func LogHead(ctx context.Context, db *storage.DB) (Head, error) {
	var h Head
	if err := db.Read().QueryRowContext(ctx, `SELECT position FROM event_sequence WHERE id = 1`).Scan(&h.Position); err != nil {
		return h, fmt.Errorf("events: head: %w", err)
	}
	if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM event_log WHERE position IS NULL`).Scan(&h.Unsequenced); err != nil {
		return h, fmt.Errorf("events: head: %w", err)
	}
	return h, nil
}

// Read returns up to limit sequenced events after position, in order.
func Read(ctx context.Context, db *storage.DB, after int64, limit int) ([]Event, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT position, event_id, source, type, subject, occurred_at, specversion, datacontenttype, agency_id, data
		FROM event_log WHERE position > $1 ORDER BY position LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	return scanEvents(rows)
}

func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var data string
		if err := rows.Scan(&e.Position, &e.ID, &e.Source, &e.Type, &e.Subject, &e.Time, &e.SpecVersion, &e.DataContentType, &e.AgencyID, &data); err != nil {
			return nil, fmt.Errorf("events: read: %w", err)
		}
		e.Time = e.Time.UTC()
		if data != "" {
			e.Data = json.RawMessage(data)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: read: %w", err)
	}
	return out, nil
}

// ReadAgency returns up to limit sequenced events of agency (AgencyID)
// after position, in log order. Events of no agency are never returned.
// It is one range scan of the index event_log_agency (migration 00031).
func ReadAgency(ctx context.Context, db *storage.DB, agency string, after int64, limit int) ([]Event, error) {
	if agency == "" {
		return nil, nil
	}
	rows, err := db.Read().QueryContext(ctx, `SELECT position, event_id, source, type, subject, occurred_at, specversion, datacontenttype, agency_id, data
		FROM event_log WHERE agency_id = $1 AND position > $2 ORDER BY position LIMIT $3`, agency, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events: read %s: %w", agency, err)
	}
	return scanEvents(rows)
}

// ConsumerState is a consumer's cursor and health, for operators.
type ConsumerState struct {
	Name      string `json:"name"`
	Position  int64  `json:"position"` // the last event handled
	Attempts  int    `json:"attempts"` // failed attempts at the next event
	LastError string `json:"last_error,omitempty"`
	// RetryAt is when the next attempt may start after a failure.
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// LeaseOwner is the process driving the consumer now, if any.
	LeaseOwner string     `json:"lease_owner,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Consumers lists every consumer that has a cursor, by name.
func Consumers(ctx context.Context, db *storage.DB) ([]ConsumerState, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT name, position, attempts, last_error, retry_at, lease_owner, lease_until, updated_at
		FROM event_consumers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("events: consumers: %w", err)
	}
	defer rows.Close()
	out := []ConsumerState{}
	for rows.Next() {
		var c ConsumerState
		var retryAt, leaseUntil int64
		if err := rows.Scan(&c.Name, &c.Position, &c.Attempts, &c.LastError, &retryAt, &c.LeaseOwner, &leaseUntil, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("events: consumers: %w", err)
		}
		c.UpdatedAt = c.UpdatedAt.UTC()
		c.RetryAt, c.LeaseUntil = fromMillis(retryAt), fromMillis(leaseUntil)
		out = append(out, c)
	}
	return out, rows.Err()
}

func fromMillis(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

// Replay moves consumer's cursor so that its next event is the one at
// position from (1 replays the whole log), in tx, and clears its failure
// count so it tries at once. A process handling the consumer now notices at
// its next cursor move and continues from the new position. It returns the
// cursor's previous position. Errors: not found (no such consumer), invalid
// (from outside 1..head+1).
func Replay(ctx context.Context, tx *sql.Tx, consumer string, from int64, now time.Time) (int64, error) {
	var head int64
	if err := tx.QueryRowContext(ctx, `SELECT position FROM event_sequence WHERE id = 1`).Scan(&head); err != nil {
		return 0, fmt.Errorf("events: replay: %w", err)
	}
	if from < 1 || from > head+1 {
		return 0, platform.Errorf(platform.CodeInvalid, "cannot replay from %d: positions run from 1 to %d (the log's head is %d)", from, head+1, head)
	}
	var old int64
	err := tx.QueryRowContext(ctx, `SELECT position FROM event_consumers WHERE name = $1`, consumer).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, platform.Errorf(platform.CodeNotFound, "there is no consumer %q; `portico events list` shows them", consumer)
	}
	if err != nil {
		return 0, fmt.Errorf("events: replay: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE event_consumers SET position = $2, attempts = 0, last_error = '', retry_at = 0, updated_at = $3 WHERE name = $1`,
		consumer, from-1, now.UTC()); err != nil {
		return 0, fmt.Errorf("events: replay: %w", err)
	}
	return old, nil
}
