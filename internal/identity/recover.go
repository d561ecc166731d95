package identity

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
)

// StartRecovery sends a recovery code to email when it has an account, and
// a note saying there is no account otherwise. The answer is the same
// either way: the id of the challenge the next page asks the code for.
func (s *Service) StartRecovery(ctx context.Context, email, lang string, c Client) (string, error) {
	email, key, lang, err := s.codeRequest(ctx, email, lang, c)
	if err != nil {
		return "", err
	}
	var id string
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := loadAccount(ctx, tx, "email_key", key)
		if err != nil && err != ErrNotFound {
			return err
		}
		accountID := ""
		if a != nil && !a.Disabled {
			accountID, lang = a.ID, a.Lang
		}
		var code, token string
		id, code, token, err = s.issueChallenge(ctx, tx, PurposeRecover, key, accountID)
		if err != nil {
			return err
		}
		name := s.cfg.SiteName
		if accountID == "" {
			if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET expires_at = created_at WHERE id = $1`, id); err != nil {
				return err
			}
			return s.send(ctx, tx, email, lang, true, fmt.Sprintf(emailT(lang, "noacct.subject"), name),
				fmt.Sprintf(emailT(lang, "noacct.body"), name, s.PublicURL()))
		}
		if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "recovery.start", Subject: "account:" + accountID, Detail: map[string]string{"ip": c.IP}}); err != nil {
			return err
		}
		return s.send(ctx, tx, email, lang, true, fmt.Sprintf(emailT(lang, "recover.subject"), name, code),
			fmt.Sprintf(emailT(lang, "recover.body"), name, code, s.link("/recover/confirm", token), int(s.cfg.CodeTTL.Minutes())))
	})
	return id, err
}

// RecoveryNeeds says what CompleteRecovery will ask for besides a new
// password, for the account behind a completion token.
type RecoveryNeeds struct {
	SecondFactor bool // a TOTP or recovery code is required
	WithMFA      bool // the new password may be as short as 8
}

// RecoveryRequirements reports what the account behind completion needs.
func (s *Service) RecoveryRequirements(ctx context.Context, completion string) (RecoveryNeeds, error) {
	if err := s.CheckCompletion(ctx, PurposeRecover, completion); err != nil {
		return RecoveryNeeds{}, err
	}
	var accountID string
	if err := s.db.Read().QueryRowContext(ctx, `SELECT account_id FROM email_challenges WHERE token_hash = $1`, hashToken(completion)).Scan(&accountID); err != nil {
		return RecoveryNeeds{}, ErrBadCode
	}
	a, err := s.Account(ctx, accountID)
	if err != nil {
		return RecoveryNeeds{}, ErrBadCode
	}
	return RecoveryNeeds{SecondFactor: a.TOTPEnabled, WithMFA: a.TOTPEnabled}, nil
}

// CompleteRecovery sets a new password for the confirmed account. When the
// account has an authenticator app, code must be a current TOTP code or an
// unused recovery code: recovery never bypasses a second factor. Every
// session of the account ends; the person signs in afresh.
func (s *Service) CompleteRecovery(ctx context.Context, completion, newPassword, code string, c Client) error {
	var outcome error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ch, err := s.completed(ctx, tx, PurposeRecover, completion)
		if err != nil {
			return err
		}
		a, err := loadAccount(ctx, tx, "id", ch.AccountID)
		if err != nil {
			return ErrBadCode
		}
		if p := s.checkPassword(newPassword, a.Email, a.LegalName, a.TOTPEnabled); p != "" {
			return FieldErrors{"password": string(p)}
		}
		if a.PasskeyCount > 0 && !a.TOTPEnabled {
			// Passkey-only accounts recover by signing in with a passkey;
			// an emailed code alone must not replace a factor.
			return platform.Errorf(platform.CodeForbidden, "identity.recover.passkey")
		}
		if a.TOTPEnabled {
			// Guesses at the second factor here count with those at
			// sign-in, before the code is checked.
			lock, err := s.throttleCount(ctx, tx, "otp:"+a.ID, s.otpRule(), true)
			if err != nil {
				return err
			}
			if lock != nil {
				outcome = lock
				return s.restoreCompletion(ctx, tx, ch)
			}
			_, ok, err := s.checkSecondFactor(ctx, tx, a, code)
			if err != nil {
				return err
			}
			if !ok {
				if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "recovery.mfa_failed", Subject: "account:" + a.ID, Detail: map[string]string{"ip": c.IP}}); err != nil {
					return err
				}
				outcome = platform.Invalid("code", "identity.mfa.wrong")
				return s.restoreCompletion(ctx, tx, ch)
			}
			if err := s.throttleClear(ctx, tx, "otp:"+a.ID); err != nil {
				return err
			}
		}
		hash, err := password.Hash(newPassword, s.cfg.PasswordParams)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, now, a.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND ended_at IS NULL`, now, a.ID); err != nil {
			return err
		}
		for _, k := range []string{accountKey(a.ID), accountKey(a.ID) + ":day"} {
			if err := s.throttleClear(ctx, tx, k); err != nil {
				return err
			}
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "recovery.complete", Subject: "account:" + a.ID, Detail: map[string]string{"ip": c.IP}}); err != nil {
			return err
		}
		name := s.cfg.SiteName
		return s.send(ctx, tx, a.Email, a.Lang, true, fmt.Sprintf(emailT(a.Lang, "changed.subject"), name),
			fmt.Sprintf(emailT(a.Lang, "changed.body"), name, s.PublicURL()))
	})
	if err != nil {
		return err
	}
	return outcome
}

// restoreCompletion keeps a completion token usable for another try after
// a wrong second-factor code, but never beyond the expiry it had:
// completed() retired it for this attempt.
func (s *Service) restoreCompletion(ctx context.Context, tx *sql.Tx, ch *challenge) error {
	_, err := tx.ExecContext(ctx, `UPDATE email_challenges SET expires_at = $1 WHERE id = $2`, ch.ExpiresAt, ch.ID)
	return err
}
