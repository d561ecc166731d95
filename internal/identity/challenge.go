package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/platform"
)

// Purpose of an email challenge.
type Purpose string

// Challenge purposes.
const (
	PurposeSignUp  Purpose = "signup"
	PurposeRecover Purpose = "recover"
)

// maxWrongCodesPerDay bounds guesses at emailed codes for one address.
const maxWrongCodesPerDay = 10

// ErrBadCode is returned for a wrong, used or expired code or link. The
// person is told only that it did not work, never which.
var ErrBadCode = platform.Invalid("code", "identity.code.invalid")

// challenge is a pending email confirmation.
type challenge struct {
	ID        string
	Purpose   Purpose
	EmailKey  string
	AccountID string
	CodeHash  string
	Attempts  int
	ExpiresAt time.Time
	UsedAt    sql.NullTime
}

func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func codeHash(challengeID, code string) string { return hashToken(challengeID + ":" + code) }

// issueChallenge stores a new challenge in tx and returns its id, the
// six-digit code and the link token. It refuses when the address already
// had EmailsPerWindow codes within CodeTTL.
func (s *Service) issueChallenge(ctx context.Context, tx *sql.Tx, p Purpose, emailKey, accountID string) (id, code, token string, err error) {
	now := s.clock.Now()
	// Times are read as rows, not through MIN(): SQLite returns aggregates
	// of time columns as text.
	rows, err := tx.QueryContext(ctx, `SELECT created_at FROM email_challenges WHERE email_key = $1 AND created_at > $2 ORDER BY created_at`,
		emailKey, now.Add(-s.cfg.CodeTTL))
	if err != nil {
		return "", "", "", fmt.Errorf("identity: challenge: %w", err)
	}
	var recent []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return "", "", "", fmt.Errorf("identity: challenge: %w", err)
		}
		recent = append(recent, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", "", "", fmt.Errorf("identity: challenge: %w", err)
	}
	if len(recent) >= s.cfg.EmailsPerWindow {
		return "", "", "", &ThrottledError{Until: recent[0].Add(s.cfg.CodeTTL).UTC()}
	}
	// A new code replaces the address's earlier ones for this purpose, so
	// at most one guessable code is alive per address.
	if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET expires_at = $1 WHERE email_key = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1`,
		now, emailKey, string(p)); err != nil {
		return "", "", "", fmt.Errorf("identity: challenge: %w", err)
	}
	id = uuid.Must(uuid.NewV7()).String()
	code = newCode()
	token, tokenHash := newToken()
	_, err = tx.ExecContext(ctx, `INSERT INTO email_challenges (id, purpose, email_key, account_id, code_hash, token_hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, string(p), emailKey, accountID, codeHash(id, code), tokenHash, now, now.Add(s.cfg.CodeTTL))
	if err != nil {
		return "", "", "", fmt.Errorf("identity: challenge: %w", err)
	}
	return id, code, token, nil
}

func (s *Service) loadChallenge(ctx context.Context, tx *sql.Tx, where string, arg any) (*challenge, error) {
	var c challenge
	err := tx.QueryRowContext(ctx, `SELECT id, purpose, email_key, account_id, code_hash, attempts, expires_at, used_at
		FROM email_challenges WHERE `+where+` = $1`, arg).
		Scan(&c.ID, &c.Purpose, &c.EmailKey, &c.AccountID, &c.CodeHash, &c.Attempts, &c.ExpiresAt, &c.UsedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrBadCode
	}
	if err != nil {
		return nil, fmt.Errorf("identity: challenge: %w", err)
	}
	return &c, nil
}

// confirm checks a code (or, when code is "", accepts the link token that
// found the challenge). On success it marks the challenge used and returns
// a completion token for the next step, valid for 30 minutes. A wrong code
// counts an attempt; after CodeAttempts the challenge is dead.
func (s *Service) confirm(ctx context.Context, tx *sql.Tx, c *challenge, p Purpose, code string, byLink bool) (string, error) {
	now := s.clock.Now()
	if c.Purpose != p || c.UsedAt.Valid || !now.Before(c.ExpiresAt) || c.Attempts >= s.cfg.CodeAttempts {
		return "", ErrBadCode
	}
	if !byLink {
		// Wrong codes for one address are capped per day across all its
		// codes: 3 codes × 5 tries every 10 minutes would otherwise allow
		// 2,160 guesses a day at a 6-digit code.
		var wrong int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(attempts), 0) FROM email_challenges WHERE email_key = $1 AND created_at > $2`,
			c.EmailKey, now.Add(-24*time.Hour)).Scan(&wrong); err != nil {
			return "", err
		}
		if wrong >= maxWrongCodesPerDay {
			return "", ErrBadCode
		}
	}
	if !byLink && subtle.ConstantTimeCompare([]byte(codeHash(c.ID, code)), []byte(c.CodeHash)) != 1 {
		if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET attempts = attempts + 1 WHERE id = $1`, c.ID); err != nil {
			return "", err
		}
		return "", ErrBadCode
	}
	completion, completionHash := newToken()
	res, err := tx.ExecContext(ctx, `UPDATE email_challenges SET used_at = $1, token_hash = $2, expires_at = $3 WHERE id = $4 AND used_at IS NULL`,
		now, completionHash, now.Add(30*time.Minute), c.ID)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", ErrBadCode // used concurrently
	}
	return completion, nil
}

// codeIPRule bounds, per client IP, both the codes it can have sent and the
// wrong codes it can type, across all addresses: without it one client
// could spread guesses over many accounts (each within its own limits).
func codeIPRule() throttleRule { return throttleRule{30, time.Hour, time.Hour} }

// reserveCodeSend counts a request to email a code from client c.
func (s *Service) reserveCodeSend(ctx context.Context, c Client) error {
	lock, err := s.reserve(ctx, "codes-ip:"+c.IP, codeIPRule())
	if err != nil {
		return err
	}
	if lock != nil {
		return lock
	}
	return nil
}

// ConfirmCode checks the code typed for challenge id. It returns the
// completion token for the next step. Wrong codes also count against the
// client's IP.
func (s *Service) ConfirmCode(ctx context.Context, p Purpose, id, code string, cl Client) (string, error) {
	if err := s.throttleCheck(ctx, s.db.Read(), "code-ip:"+cl.IP); err != nil {
		return "", err
	}
	var completion string
	var outcome error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.loadChallenge(ctx, tx, "id", id)
		if err != nil {
			outcome = err
		} else {
			completion, outcome = s.confirm(ctx, tx, c, p, code, false)
		}
		if outcome != nil && !errors.Is(outcome, ErrBadCode) {
			return outcome
		}
		if outcome != nil {
			if lock, err := s.throttleCount(ctx, tx, "code-ip:"+cl.IP, codeIPRule(), false); err != nil {
				return err
			} else if lock != nil {
				outcome = lock
			}
		}
		return nil // commit the attempt counts even when the code was wrong
	})
	if err != nil {
		return "", err
	}
	return completion, outcome
}

// ConfirmLink accepts the token from an emailed link.
func (s *Service) ConfirmLink(ctx context.Context, p Purpose, token string) (string, error) {
	if token == "" || len(token) > 100 {
		return "", ErrBadCode
	}
	var completion string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.loadChallenge(ctx, tx, "token_hash", hashToken(token))
		if err != nil {
			return err
		}
		completion, err = s.confirm(ctx, tx, c, p, "", true)
		return err
	})
	return completion, err
}

// completed returns the confirmed challenge for a completion token and
// marks it consumed by accountID, so it cannot complete twice.
func (s *Service) completed(ctx context.Context, tx *sql.Tx, p Purpose, completion string) (*challenge, error) {
	if completion == "" || len(completion) > 100 {
		return nil, ErrBadCode
	}
	c, err := s.loadChallenge(ctx, tx, "token_hash", hashToken(completion))
	if err != nil {
		return nil, err
	}
	if c.Purpose != p || !c.UsedAt.Valid || !s.clock.Now().Before(c.ExpiresAt) {
		return nil, ErrBadCode
	}
	// Retire the token.
	if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET expires_at = $1 WHERE id = $2`, s.clock.Now(), c.ID); err != nil {
		return nil, err
	}
	return c, nil
}

// CheckCompletion reports whether a completion token is still good, so a
// page can show its form (or say the link expired) before anything is typed.
func (s *Service) CheckCompletion(ctx context.Context, p Purpose, completion string) error {
	if completion == "" || len(completion) > 100 {
		return ErrBadCode
	}
	var purpose Purpose
	var used sql.NullTime
	var expires time.Time
	err := s.db.Read().QueryRowContext(ctx, `SELECT purpose, used_at, expires_at FROM email_challenges WHERE token_hash = $1`, hashToken(completion)).
		Scan(&purpose, &used, &expires)
	if err != nil || purpose != p || !used.Valid || !s.clock.Now().Before(expires) {
		return ErrBadCode
	}
	return nil
}
