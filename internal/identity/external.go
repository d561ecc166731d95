package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// ExternalClaims is what an external OpenID Provider (for example
// Login.gov) says about the person who signed in there, after the caller
// has verified its ID token.
type ExternalClaims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
}

// PendingLink is an external sign-in waiting for the person to confirm that
// it should be linked to the existing account with the same email.
type PendingLink struct {
	Claims    ExternalClaims `json:"claims"`
	AccountID string         `json:"account_id"`
	Email     string         `json:"email"`
	Next      string         `json:"next,omitempty"`
	Expires   time.Time      `json:"exp"`
}

// ExternalOutcome is the result of an external sign-in: a session, or a
// link waiting for confirmation.
type ExternalOutcome struct {
	Token   string
	Session *Session
	Link    *PendingLink
}

// ErrExternal is the answer to an external sign-in that cannot be used.
var ErrExternal = platform.Errorf(platform.CodeForbidden, "identity.external.failed")

func (s *Service) linkedAccount(ctx context.Context, q querier, issuer, subject string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT account_id FROM external_identities WHERE issuer = $1 AND subject = $2`, issuer, subject).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// ExternalSignIn signs in the person an external provider vouched for.
//
//   - Already linked: a session for the linked account, at the stage its
//     own factors require (an authenticator app is still asked for).
//   - Not linked, and an account has the same verified email: nothing is
//     linked yet; the caller shows a confirmation and calls
//     ConfirmExternalLink. Accounts are never joined silently.
//   - Not linked and no such account: a new citizen account with the
//     provider's verified email, linked, signed in.
//
// An unverified email is refused: it proves nothing.
func (s *Service) ExternalSignIn(ctx context.Context, cl ExternalClaims, c Client) (*ExternalOutcome, error) {
	if cl.Issuer == "" || cl.Subject == "" || len(cl.Subject) > 255 {
		return nil, ErrExternal
	}
	linked, err := s.linkedAccount(ctx, s.db.Read(), cl.Issuer, cl.Subject)
	if err != nil {
		return nil, err
	}
	if linked != "" {
		a, err := s.Account(ctx, linked)
		if err != nil {
			return nil, err
		}
		return s.externalSession(ctx, a, cl, c)
	}
	if !cl.EmailVerified {
		return nil, platform.Errorf(platform.CodeForbidden, "identity.external.unverified")
	}
	email, key, err := NormalizeEmail(cl.Email)
	if err != nil {
		return nil, ErrExternal
	}
	existing, err := loadAccount(ctx, s.db.Read(), "email_key", key)
	switch {
	case err == nil:
		if existing.Disabled {
			return nil, ErrExternal
		}
		return &ExternalOutcome{Link: &PendingLink{Claims: cl, AccountID: existing.ID, Email: existing.Email, Expires: s.clock.Now().Add(10 * time.Minute)}}, nil
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	name := strings.TrimSpace(cl.Name)
	if name == "" || !validName(name) {
		name = email
	}
	a := &Account{Kind: Citizen, Email: email, LegalName: name}
	var out *ExternalOutcome
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertAccount(ctx, tx, a, true); err != nil {
			return err
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "account.create", Subject: "account:" + a.ID,
			Detail: map[string]string{"kind": "citizen", "via": cl.Issuer}}); err != nil {
			return err
		}
		if err := s.insertLink(ctx, tx, a, cl); err != nil {
			return err
		}
		out, err = s.externalSessionTx(ctx, tx, a, cl, c)
		return err
	})
	return out, err
}

func (s *Service) insertLink(ctx context.Context, tx *sql.Tx, a *Account, cl ExternalClaims) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO external_identities (issuer, subject, account_id, email, created_at) VALUES ($1, $2, $3, $4, $5)`,
		cl.Issuer, cl.Subject, a.ID, cl.Email, s.clock.Now())
	if err != nil {
		return fmt.Errorf("identity: link external identity: %w", err)
	}
	_, err = s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "external.link", Subject: "account:" + a.ID, Detail: map[string]string{"issuer": cl.Issuer}})
	return err
}

// ConfirmExternalLink links the pending external identity to the account
// with the same email and signs in, after the person confirmed.
func (s *Service) ConfirmExternalLink(ctx context.Context, p PendingLink, c Client) (*ExternalOutcome, error) {
	if !s.clock.Now().Before(p.Expires) {
		return nil, ErrExternal
	}
	a, err := s.Account(ctx, p.AccountID)
	if err != nil || a.Disabled {
		return nil, ErrExternal
	}
	var out *ExternalOutcome
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if linked, err := s.linkedAccount(ctx, tx, p.Claims.Issuer, p.Claims.Subject); err != nil {
			return err
		} else if linked != "" {
			return ErrExternal // linked meanwhile (another tab): start again
		}
		if err := s.insertLink(ctx, tx, a, p.Claims); err != nil {
			return err
		}
		out, err = s.externalSessionTx(ctx, tx, a, p.Claims, c)
		return err
	})
	return out, err
}

func (s *Service) externalSession(ctx context.Context, a *Account, cl ExternalClaims, c Client) (*ExternalOutcome, error) {
	var out *ExternalOutcome
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.externalSessionTx(ctx, tx, a, cl, c)
		return err
	})
	return out, err
}

// externalSessionTx starts the session at the stage the account's own
// factors require: the external provider replaces the password, not an
// authenticator app Portico knows about.
func (s *Service) externalSessionTx(ctx context.Context, tx *sql.Tx, a *Account, cl ExternalClaims, c Client) (*ExternalOutcome, error) {
	if a.Disabled {
		return nil, ErrExternal
	}
	stage := StageFull
	switch {
	case a.TOTPEnabled:
		stage = StagePassword
	case a.Kind == Staff && a.PasskeyCount > 0:
		return nil, platform.Errorf(platform.CodeForbidden, "identity.signin.usepasskey")
	case a.Kind == Staff:
		stage = StageMFASetup
	}
	method := "external"
	token, sess, err := s.createSession(ctx, tx, a.ID, stage, method, c)
	if err != nil {
		return nil, err
	}
	action := "signin"
	if stage != StageFull {
		action = "signin.password"
	}
	if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: action, Subject: "account:" + a.ID,
		Detail: map[string]string{"method": method, "issuer": cl.Issuer, "session": sess.ID, "ip": c.IP, "stage": string(stage)}}); err != nil {
		return nil, err
	}
	return &ExternalOutcome{Token: token, Session: sess}, nil
}

// Seal protects a small value carried by the browser between two requests
// (an external sign-in's state, a pending link) so it cannot be read or
// changed there. purpose binds it to one use.
func (s *Service) Seal(purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return s.box.Seal(string(b), "browser:"+purpose)
}

// Open reverses Seal.
func (s *Service) Open(purpose, sealed string, v any) error {
	raw, err := s.box.Open(sealed, "browser:"+purpose)
	if err != nil {
		return ErrExternal
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return ErrExternal
	}
	return nil
}
