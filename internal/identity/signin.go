package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
)

// ErrBadCredentials is the one answer to a wrong email or password: it does
// not say which was wrong, or whether the account exists.
var ErrBadCredentials = platform.Errorf(platform.CodeUnauthorized, "identity.signin.invalid")

// dummy returns a hash to verify against when the account does not exist,
// so a sign-in to a missing account costs the same time as a wrong
// password. It is made once per Service, with the Service's parameters.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		s.dummyHash, _ = password.Hash("no account has this password", s.cfg.PasswordParams)
	})
	return s.dummyHash
}

func ipKey(ip string) string { return "ip:" + ip }

func accountKey(id string) string { return "account:" + id }

// SignIn checks an email and password. On success it returns a new session
// token; the session's stage says whether a second factor (StagePassword)
// or its set-up (StageMFASetup) is still due.
//
// Throttling: each attempt on an address is counted before the password is
// checked (so parallel guesses cannot outrun the limit) and the count is
// cleared on success; unknown addresses are counted the same way under a
// keyed pseudonym, so a lockout reveals nothing. Failures are also counted
// per client IP. When a limit is reached the answer is a *ThrottledError
// saying until when.
func (s *Service) SignIn(ctx context.Context, email, pw string, c Client) (string, *Session, error) {
	if err := s.throttleCheck(ctx, s.db.Read(), ipKey(c.IP)); err != nil {
		return "", nil, err
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return "", nil, ErrBadCredentials
	}
	a, err := loadAccount(ctx, s.db.Read(), "email_key", key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", nil, err
	}
	target := "address:" + s.box.MAC(key)
	subject := "email:" + s.box.MAC(key)[:16] // never store a guessed address in the clear
	if a != nil {
		target, subject = accountKey(a.ID), "account:"+a.ID
	}
	if lock, err := s.reserve(ctx, target, s.accountRule(), s.accountDayRule()); err != nil {
		return "", nil, err
	} else if lock != nil {
		s.auditWrite(ctx, "signin.failed", subject, map[string]string{"ip": c.IP, "reason": "locked"})
		return "", nil, lock
	}
	hash := s.dummy()
	if a != nil && a.passwordHash != "" {
		hash = a.passwordHash
	}
	ok, verr := password.Verify(pw, hash)
	if verr != nil {
		ok = false
	}
	if a == nil || !ok || a.Disabled || a.passwordHash == "" {
		return "", nil, s.failSignIn(ctx, subject, c)
	}
	// Staff whose only second factor is a passkey sign in with the passkey:
	// a password alone must not lead to adding a new factor.
	if a.Kind == Staff && !a.TOTPEnabled && a.PasskeyCount > 0 {
		return "", nil, platform.Errorf(platform.CodeForbidden, "identity.signin.usepasskey")
	}

	var token string
	var sess *Session
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, k := range []string{target, target + ":day"} {
			if err := s.throttleClear(ctx, tx, k); err != nil {
				return err
			}
		}
		if password.NeedsRehash(a.passwordHash, s.cfg.PasswordParams) {
			h, err := password.Hash(pw, s.cfg.PasswordParams)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, h, a.ID); err != nil {
				return err
			}
		}
		stage, method := StageFull, "password"
		switch {
		case a.TOTPEnabled:
			stage = StagePassword
		case a.Kind == Staff:
			stage = StageMFASetup // no second factor at all yet
		}
		var err error
		token, sess, err = s.createSession(ctx, tx, a.ID, stage, method, c)
		if err != nil {
			return err
		}
		action := "signin"
		if stage != StageFull {
			action = "signin.password"
		}
		_, err = s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: action, Subject: "account:" + a.ID,
			Detail: map[string]string{"method": method, "session": sess.ID, "ip": c.IP, "stage": string(stage)}})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// reserve counts one attempt against key under each rule (the rules'
// keys are key, key+":day", …) and returns the first lock.
func (s *Service) reserve(ctx context.Context, key string, rules ...throttleRule) (*ThrottledError, error) {
	var lock *ThrottledError
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for i, r := range rules {
			k := key
			if i == 1 {
				k = key + ":day"
			}
			l, err := s.throttleCount(ctx, tx, k, r, true)
			if err != nil {
				return err
			}
			if l != nil && lock == nil {
				lock = l
			}
		}
		return nil
	})
	return lock, err
}

func (s *Service) auditWrite(ctx context.Context, action, subject string, detail any) {
	_, _ = s.audit.Write(ctx, audit.Record{Action: action, Subject: subject, Detail: detail})
}

// as returns ctx acting as the account.
func (s *Service) as(ctx context.Context, a *Account) context.Context {
	return platform.WithActor(ctx, a.Actor())
}

// failSignIn counts the failure against the client IP, audits it and
// returns what to tell the person.
func (s *Service) failSignIn(ctx context.Context, subject string, c Client) error {
	var lock *ThrottledError
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		l, err := s.throttleCount(ctx, tx, ipKey(c.IP), s.ipRule(), false)
		if err != nil {
			return err
		}
		lock = l
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "signin.failed", Subject: subject, Detail: map[string]string{"ip": c.IP}})
		return err
	})
	if err != nil {
		return err
	}
	if lock != nil {
		return lock
	}
	return ErrBadCredentials
}

// promote moves a session to StageFull after a second factor and renews its
// token (a new token on every authentication step).
func (s *Service) promote(ctx context.Context, tx *sql.Tx, sess *Session, method string) (string, error) {
	token, hash := newToken()
	now := s.clock.Now()
	_, err := tx.ExecContext(ctx, `UPDATE sessions SET stage = 'full', method = $1, token_hash = $2, authenticated_at = $3, last_seen_at = $3 WHERE id = $4`,
		method, hash, now, sess.ID)
	if err != nil {
		return "", fmt.Errorf("identity: promote session: %w", err)
	}
	sess.Stage, sess.Method, sess.AuthenticatedAt = StageFull, method, now
	return token, nil
}

// SecondFactor completes a sign-in at StagePassword with a TOTP code or a
// recovery code. It returns the session's new token. Each attempt is
// counted before the code is checked.
func (s *Service) SecondFactor(ctx context.Context, sess *Session, a *Account, code string, c Client) (string, error) {
	if sess.Stage != StagePassword {
		return "", platform.Errorf(platform.CodeConflict, "identity.mfa.notexpected")
	}
	if lock, err := s.reserve(ctx, "otp:"+a.ID, s.otpRule()); err != nil {
		return "", err
	} else if lock != nil {
		return "", lock
	}
	var token string
	var outcome error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		method, ok, err := s.checkSecondFactor(ctx, tx, a, code)
		if err != nil {
			return err
		}
		if !ok {
			outcome = ErrBadCode
			_, err = s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "signin.mfa_failed", Subject: "account:" + a.ID, Detail: map[string]string{"ip": c.IP}})
			return err
		}
		if err := s.throttleClear(ctx, tx, "otp:"+a.ID); err != nil {
			return err
		}
		token, err = s.promote(ctx, tx, sess, method)
		if err != nil {
			return err
		}
		_, err = s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "signin", Subject: "account:" + a.ID,
			Detail: map[string]string{"method": method, "session": sess.ID, "ip": c.IP}})
		return err
	})
	if err != nil {
		return "", err
	}
	return token, outcome
}

// Reauthenticate renews a full session's authentication time after the
// person re-enters their password (and second factor, when they have one),
// before a sensitive change. Attempts count against the account like
// sign-ins do.
func (s *Service) Reauthenticate(ctx context.Context, sess *Session, a *Account, pw, code string, c Client) error {
	if lock, err := s.reserve(ctx, accountKey(a.ID), s.accountRule(), s.accountDayRule()); err != nil {
		return err
	} else if lock != nil {
		return lock
	}
	ok, _ := password.Verify(pw, a.passwordHash)
	var outcome error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if ok && a.TOTPEnabled {
			_, ok2, err := s.checkSecondFactor(ctx, tx, a, code)
			if err != nil {
				return err
			}
			ok = ok2
		}
		if !ok {
			// Already signed in: a wrong re-entry is a mistake on the
			// form (400), not a failed authentication of a stranger (401).
			outcome = platform.Invalid("password", "identity.reauth.wrong")
			_, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "reauth.failed", Subject: "account:" + a.ID, Detail: map[string]string{"ip": c.IP}})
			return err
		}
		for _, k := range []string{accountKey(a.ID), accountKey(a.ID) + ":day"} {
			if err := s.throttleClear(ctx, tx, k); err != nil {
				return err
			}
		}
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET authenticated_at = $1 WHERE id = $2`, now, sess.ID); err != nil {
			return err
		}
		sess.AuthenticatedAt = now
		_, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "reauth", Subject: "account:" + a.ID, Detail: map[string]string{"session": sess.ID}})
		return err
	})
	if err != nil {
		return err
	}
	return outcome
}

// ErrReauth means a sensitive change needs a fresh authentication.
var ErrReauth = platform.Errorf(platform.CodeForbidden, "identity.reauth.required")

// ChangePassword sets a new password for a recently re-authenticated
// session, ends the account's other sessions and tells the owner by email.
func (s *Service) ChangePassword(ctx context.Context, sess *Session, a *Account, newPassword string) error {
	if s.NeedsReauth(sess) {
		return ErrReauth
	}
	// Only an authenticator app makes every password sign-in two-factor
	// (a passkey is an alternative to the password, not a second step).
	if p := s.checkPassword(newPassword, a.Email, a.LegalName, a.TOTPEnabled); p != "" {
		return FieldErrors{"password": string(p)}
	}
	return s.setPassword(ctx, a, newPassword, sess.ID)
}

func (s *Service) setPassword(ctx context.Context, a *Account, pw, keepSession string) error {
	hash, err := password.Hash(pw, s.cfg.PasswordParams)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, now, a.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND id <> $3 AND ended_at IS NULL`, now, a.ID, keepSession); err != nil {
			return err
		}
		for _, k := range []string{accountKey(a.ID), accountKey(a.ID) + ":day"} {
			if err := s.throttleClear(ctx, tx, k); err != nil {
				return err
			}
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "password.change", Subject: "account:" + a.ID}); err != nil {
			return err
		}
		name := s.cfg.SiteName
		return s.send(ctx, tx, a.Email, a.Lang, true, fmt.Sprintf(emailT(a.Lang, "changed.subject"), name),
			fmt.Sprintf(emailT(a.Lang, "changed.body"), name, s.PublicURL()))
	})
}
