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

// throttleCount atomically counts one event against key and returns the
// lock when the count reaches the rule's limit within its window. It is a
// single upsert, so concurrent attempts cannot read the same count: a
// burst of N parallel guesses is N counts.
//
// Callers use it in two ways. For attempts on one account (a password, a
// second factor) they count the attempt *before* checking the secret and
// refuse when locked, then clear the key on success: no more than the
// limit of guesses can ever be checked. For a client IP they count only
// failures, so a person signing in successfully from a shared address does
// not reset it for an attacker.
func (s *Service) throttleCount(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, key string, r throttleRule, reserve bool) (*ThrottledError, error) {
	now := s.clock.Now()
	var failures int
	var locked sql.NullTime
	// A window that has passed, or a lock that has run out, starts afresh.
	err := q.QueryRowContext(ctx, `INSERT INTO throttles (key, window_start, failures, locked_until) VALUES ($1, $2, 1, NULL)
		ON CONFLICT (key) DO UPDATE SET
		  failures = CASE WHEN throttles.window_start <= $3 OR (throttles.locked_until IS NOT NULL AND throttles.locked_until <= $2)
		                  THEN 1 ELSE throttles.failures + 1 END,
		  locked_until = CASE WHEN throttles.locked_until IS NOT NULL AND throttles.locked_until <= $2 THEN NULL ELSE throttles.locked_until END,
		  window_start = CASE WHEN throttles.window_start <= $3 OR (throttles.locked_until IS NOT NULL AND throttles.locked_until <= $2)
		                  THEN $2 ELSE throttles.window_start END
		RETURNING failures, locked_until`, key, now, now.Add(-r.window)).Scan(&failures, &locked)
	if err != nil {
		return nil, fmt.Errorf("identity: throttle: %w", err)
	}
	if locked.Valid && now.Before(locked.Time) {
		return &ThrottledError{Until: locked.Time.UTC()}, nil
	}
	// Reserving, the limit is how many attempts may be checked: the next
	// one is refused. Counting failures, reaching the limit locks.
	if failures < r.failures || reserve && failures == r.failures {
		return nil, nil
	}
	until := now.Add(r.lockout)
	if err := q.QueryRowContext(ctx, `UPDATE throttles SET locked_until = $1 WHERE key = $2 RETURNING locked_until`, until, key).Scan(&locked); err != nil {
		return nil, fmt.Errorf("identity: throttle: %w", err)
	}
	return &ThrottledError{Until: until}, nil
}

// throttleClear forgets the count against key (after a success).
func (s *Service) throttleClear(ctx context.Context, tx *sql.Tx, key string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}

// accountRule limits guesses at one account's password (Login.gov: 5 per
// 60 s, then 10 minutes).
func (s *Service) accountRule() throttleRule {
	return throttleRule{s.cfg.AccountFailures, s.cfg.AccountWindow, s.cfg.AccountLockout}
}

// accountDayRule caps consecutive failures however slowly they come (NIST
// SP 800-63B-4: at most 100), since the short rule's window resets.
func (s *Service) accountDayRule() throttleRule {
	return throttleRule{100, 24 * time.Hour, 24 * time.Hour}
}

// otpRule limits guesses at second-factor codes (Login.gov: 10, then 10
// minutes).
func (s *Service) otpRule() throttleRule {
	return throttleRule{10, s.cfg.AccountLockout, s.cfg.AccountLockout}
}

func (s *Service) ipRule() throttleRule {
	return throttleRule{s.cfg.IPFailures, s.cfg.IPWindow, s.cfg.IPLockout}
}
