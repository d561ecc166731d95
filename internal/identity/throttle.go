package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/platform"
)

// ThrottledError says that attempts are refused until Until.
type ThrottledError struct{ Until time.Time }

func (e *ThrottledError) Error() string {
	return "identity: too many attempts; try again after " + e.Until.Format(time.RFC3339)
}

// Unwrap makes the error carry the rate_limited code.
func (e *ThrottledError) Unwrap() error {
	return platform.Errorf(platform.CodeRateLimited, "identity.throttled")
}

type throttleRule struct {
	failures int
	window   time.Duration
	lockout  time.Duration
}

// throttleCheck returns a *ThrottledError when key is locked.
func (s *Service) throttleCheck(ctx context.Context, q querier, key string) error {
	var locked sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT locked_until FROM throttles WHERE key = $1`, key).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("identity: throttle: %w", err)
	}
	if locked.Valid && s.clock.Now().Before(locked.Time) {
		return &ThrottledError{Until: locked.Time.UTC()}
	}
	return nil
}

// throttleFail counts a failure against key and locks it when the rule's
// count is reached within its window. It returns the lock, if any.
func (s *Service) throttleFail(ctx context.Context, tx *sql.Tx, key string, r throttleRule) (*ThrottledError, error) {
	now := s.clock.Now()
	var start time.Time
	var failures int
	var locked sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT window_start, failures, locked_until FROM throttles WHERE key = $1`, key).Scan(&start, &failures, &locked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		start, failures = now, 0
	case err != nil:
		return nil, fmt.Errorf("identity: throttle: %w", err)
	}
	if now.Sub(start) >= r.window || (locked.Valid && !now.Before(locked.Time)) {
		start, failures, locked = now, 0, sql.NullTime{}
	}
	failures++
	var lock any
	var te *ThrottledError
	if failures >= r.failures {
		until := now.Add(r.lockout)
		lock, te = until, &ThrottledError{Until: until}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO throttles (key, window_start, failures, locked_until) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, failures = excluded.failures, locked_until = excluded.locked_until`,
		key, start, failures, lock)
	if err != nil {
		return nil, fmt.Errorf("identity: throttle: %w", err)
	}
	return te, nil
}

// throttleClear forgets failures against key (after a success).
func (s *Service) throttleClear(ctx context.Context, tx *sql.Tx, key string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}

func (s *Service) accountRule() throttleRule {
	return throttleRule{s.cfg.AccountFailures, s.cfg.AccountWindow, s.cfg.AccountLockout}
}

func (s *Service) ipRule() throttleRule {
	return throttleRule{s.cfg.IPFailures, s.cfg.IPWindow, s.cfg.IPLockout}
}
