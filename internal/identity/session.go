package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Stage of a session.
type Stage string

// Session stages.
const (
	// StagePassword: the password was right; a second factor is due.
	StagePassword Stage = "password"
	// StageMFASetup: a staff member without a second factor must add one
	// before doing anything else.
	StageMFASetup Stage = "mfa_setup"
	// StageFull: signed in.
	StageFull Stage = "full"
)

// Session is a signed-in browser.
type Session struct {
	ID              string    `json:"id"`
	AccountID       string    `json:"account_id"`
	Stage           Stage     `json:"stage"`
	Method          string    `json:"method"`
	CreatedAt       time.Time `json:"created_at"`
	LastSeenAt      time.Time `json:"last_seen_at"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	UserAgent       string    `json:"user_agent"`
	IP              string    `json:"ip"`
}

// Client describes where a request came from, for sessions and throttling.
type Client struct {
	IP        string
	UserAgent string
}

// newToken returns a 256-bit random token and its storage hash.
func newToken() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("identity: crypto/rand failed: " + err.Error()) // the OS RNG never fails on supported systems
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// createSession starts a new session in tx and returns its cookie token.
// A new token is issued on every sign-in (session fixation defence).
func (s *Service) createSession(ctx context.Context, tx *sql.Tx, accountID string, stage Stage, method string, c Client) (string, *Session, error) {
	now := s.clock.Now()
	token, hash := newToken()
	sess := &Session{
		ID: uuid.Must(uuid.NewV7()).String(), AccountID: accountID, Stage: stage, Method: method,
		CreatedAt: now, LastSeenAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(s.cfg.SessionAbsolute),
		UserAgent: truncate(c.UserAgent, 300), IP: truncate(c.IP, 64),
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, account_id, stage, method, created_at, last_seen_at,
		authenticated_at, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $7, $8, $9)`,
		sess.ID, hash, accountID, string(stage), method, now, sess.ExpiresAt, sess.UserAgent, sess.IP)
	if err != nil {
		return "", nil, fmt.Errorf("identity: create session: %w", err)
	}
	return token, sess, nil
}

// ErrNoSession means the token names no live session.
var ErrNoSession = platform.Errorf(platform.CodeUnauthorized, "identity.session.expired")

// Authenticate returns the live session and account for a cookie token and
// records activity. Sessions end after SessionIdle without activity or
// SessionAbsolute after sign-in, whichever comes first.
func (s *Service) Authenticate(ctx context.Context, token string) (*Session, *Account, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, ErrNoSession
	}
	now := s.clock.Now()
	var sess Session
	var ended sql.NullTime
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, account_id, stage, method, created_at, last_seen_at, authenticated_at,
		expires_at, user_agent, ip, ended_at FROM sessions WHERE token_hash = $1`, hashToken(token)).
		Scan(&sess.ID, &sess.AccountID, &sess.Stage, &sess.Method, &sess.CreatedAt, &sess.LastSeenAt, &sess.AuthenticatedAt,
			&sess.ExpiresAt, &sess.UserAgent, &sess.IP, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("identity: authenticate: %w", err)
	}
	if ended.Valid || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.SessionIdle {
		return nil, nil, ErrNoSession
	}
	a, err := s.Account(ctx, sess.AccountID)
	if err != nil {
		return nil, nil, err
	}
	if a.Disabled {
		return nil, nil, ErrNoSession
	}
	// Record activity at most once per touchInterval: sessions are read on
	// every request and SQLite has one writer.
	if now.Sub(sess.LastSeenAt) >= s.touchInterval() {
		if _, err := s.db.Write().ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, now, sess.ID); err != nil {
			return nil, nil, fmt.Errorf("identity: touch session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return &sess, a, nil
}

// touchInterval is how stale a session's recorded activity may be before
// a request records it again: a minute, or a tenth of the idle limit when
// that is shorter. Activity is then recorded late by less than a tenth of
// the limit, so a person who acts more often than every nine tenths of it
// (every 54 s under --session-idle 1m) is never signed out as idle.
func (s *Service) touchInterval() time.Duration {
	return min(time.Minute, s.cfg.SessionIdle/10)
}

// NeedsReauth reports whether sess must re-authenticate before a sensitive
// change (email, phone, password, factors).
func (s *Service) NeedsReauth(sess *Session) bool {
	return s.clock.Now().Sub(sess.AuthenticatedAt) >= s.cfg.ReauthAfter
}

// Sessions lists the account's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, accountID string) ([]Session, error) {
	now := s.clock.Now()
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, account_id, stage, method, created_at, last_seen_at, authenticated_at,
		expires_at, user_agent, ip FROM sessions WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 AND last_seen_at > $3
		ORDER BY created_at DESC`, accountID, now, now.Add(-s.cfg.SessionIdle))
	if err != nil {
		return nil, fmt.Errorf("identity: sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var x Session
		if err := rows.Scan(&x.ID, &x.AccountID, &x.Stage, &x.Method, &x.CreatedAt, &x.LastSeenAt, &x.AuthenticatedAt,
			&x.ExpiresAt, &x.UserAgent, &x.IP); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// EndSession ends one of the account's sessions. Ending a session that is
// not the account's is indistinguishable from ending one that does not exist.
func (s *Service) EndSession(ctx context.Context, accountID, sessionID string) error {
	if !platform.IsUUID(sessionID) { // names no session: no query
		return platform.Errorf(platform.CodeNotFound, "identity.session.notfound")
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = $1 WHERE id = $2 AND account_id = $3 AND ended_at IS NULL`,
			s.clock.Now(), sessionID, accountID)
		if err != nil {
			return fmt.Errorf("identity: end session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.Errorf(platform.CodeNotFound, "identity.session.notfound")
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "session.end", Subject: "account:" + accountID, Detail: map[string]string{"session": sessionID}})
		return err
	})
}

// SignOut ends the session named by token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var accountID string
		err := tx.QueryRowContext(ctx, `UPDATE sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL RETURNING account_id`,
			s.clock.Now(), hashToken(token)).Scan(&accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("identity: sign out: %w", err)
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "signout", Subject: "account:" + accountID})
		return err
	})
}

// SignOutEverywhere ends every session of the account except keep (which may be "").
func (s *Service) SignOutEverywhere(ctx context.Context, accountID, keep string) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND id <> $3 AND ended_at IS NULL
			AND expires_at > $1 AND last_seen_at > $4`, now, accountID, keep, now.Add(-s.cfg.SessionIdle))
		if err != nil {
			return fmt.Errorf("identity: sign out everywhere: %w", err)
		}
		n, _ = res.RowsAffected()
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "signout.everywhere", Subject: "account:" + accountID, Detail: map[string]int64{"ended": n}})
		return err
	})
	return n, err
}
