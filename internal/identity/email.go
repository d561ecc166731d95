package identity

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// PurposeEmailChange confirms a new address before an account moves to it.
const PurposeEmailChange Purpose = "email_change"

// emailChangeT is the text of an email-change email
// (identity.mail.change.KEY in the catalogues, unformatted).
func emailChangeT(lang, key string) string {
	l, _ := i18n.Parse(lang)
	return i18n.Messages().T(l, "identity.mail.change."+key)
}

// StartEmailChange sends a code to newEmail, which becomes the account's
// address once ConfirmEmailChange checks the code. It needs a recent
// authentication. When newEmail already belongs to another account, that
// address is told so instead and the code can never work: the answer here
// is the same either way.
func (s *Service) StartEmailChange(ctx context.Context, sess *Session, a *Account, newEmail string) (string, error) {
	if s.NeedsReauth(sess) {
		return "", ErrReauth
	}
	email, key, err := NormalizeEmail(newEmail)
	if err != nil {
		return "", err
	}
	if _, current, _ := NormalizeEmail(a.Email); key == current {
		return "", platform.Invalid("email", "identity.email.same")
	}
	var id string
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var other string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE email_key = $1`, key).Scan(&other); err != nil && err != sql.ErrNoRows {
			return err
		}
		var code string
		var err error
		id, code, _, err = s.issueChallenge(ctx, tx, PurposeEmailChange, key, a.ID)
		if err != nil {
			return err
		}
		name := s.cfg.SiteName
		if other != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET expires_at = created_at WHERE id = $1`, id); err != nil {
				return err
			}
			return s.send(ctx, tx, email, a.Lang, true, fmt.Sprintf(emailChangeT(a.Lang, "taken.subject"), name), fmt.Sprintf(emailChangeT(a.Lang, "taken.body"), name))
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "email.change.start", Subject: "account:" + a.ID}); err != nil {
			return err
		}
		return s.send(ctx, tx, email, a.Lang, true, fmt.Sprintf(emailChangeT(a.Lang, "code.subject"), name, code),
			fmt.Sprintf(emailChangeT(a.Lang, "code.body"), name, code, int(s.cfg.CodeTTL.Minutes())))
	})
	return id, err
}

// ConfirmEmailChange checks the code sent to the new address and moves the
// account to it. The old address is told.
func (s *Service) ConfirmEmailChange(ctx context.Context, sess *Session, a *Account, challengeID, code string) error {
	var outcome error
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.loadChallenge(ctx, tx, "id", challengeID)
		if err != nil || c.AccountID != a.ID {
			outcome = ErrBadCode
			return nil
		}
		if _, err := s.confirm(ctx, tx, c, PurposeEmailChange, code, false); err != nil {
			outcome = err
			if err == ErrBadCode {
				return nil // keep the attempt count
			}
			return err
		}
		old := a.Email
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET email = $1, email_key = $1, email_verified_at = $2, updated_at = $2 WHERE id = $3`,
			c.EmailKey, s.clock.Now(), a.ID)
		if storage.IsUniqueViolation(err) {
			outcome = platform.Errorf(platform.CodeConflict, "identity.email.taken")
			return nil
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "email.change", Subject: "account:" + a.ID}); err != nil {
			return err
		}
		name := s.cfg.SiteName
		return s.send(ctx, tx, old, a.Lang, true, fmt.Sprintf(emailChangeT(a.Lang, "moved.subject"), name),
			fmt.Sprintf(emailChangeT(a.Lang, "moved.body"), name, c.EmailKey, s.PublicURL()))
	})
	if err != nil {
		return err
	}
	return outcome
}
