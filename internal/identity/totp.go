package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// TOTP parameters: RFC 6238 defaults that every authenticator app supports.
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// recoveryCodes is how many single-use recovery codes an account gets.
	recoveryCodes = 10
)

// TOTPSetup is what a person needs to add Portico to an authenticator app.
type TOTPSetup struct {
	Secret string // base32, shown for manual entry
	Sealed string // the secret sealed to the account: what the set-up form carries back
	URL    string // otpauth:// URL
	QRCode string // data: URL of a PNG QR code of URL
}

// BeginTOTP makes a new secret for the account. Nothing is stored until
// EnableTOTP proves the app has it.
func (s *Service) BeginTOTP(a *Account) (*TOTPSetup, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.SiteName, AccountName: a.Email, Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20,
	})
	if err != nil {
		return nil, fmt.Errorf("identity: totp: %w", err)
	}
	return s.sealSetup(a, key)
}

// sealSetup completes a set-up with the secret sealed to the account, so
// the browser carries it between the two steps without being able to read
// a different one in: the server chose the secret, not the form.
func (s *Service) sealSetup(a *Account, key *otp.Key) (*TOTPSetup, error) {
	setup, err := setupFromKey(key)
	if err != nil {
		return nil, err
	}
	if setup.Sealed, err = s.box.Seal(setup.Secret, "totp-pending:"+a.ID); err != nil {
		return nil, err
	}
	return setup, nil
}

// openPending returns the secret in a sealed set-up value, or an error.
func (s *Service) openPending(a *Account, sealed string) (string, error) {
	secret, err := s.box.Open(sealed, "totp-pending:"+a.ID)
	if err != nil || !validSecret(secret) {
		return "", platform.Invalid("secret", "identity.totp.invalid")
	}
	return secret, nil
}

// TOTPSetupFor rebuilds the set-up details from the sealed value of a
// secret already shown (when the person mistyped the first code and their
// app already holds it).
func (s *Service) TOTPSetupFor(a *Account, sealed string) (*TOTPSetup, error) {
	secret, err := s.openPending(a, sealed)
	if err != nil {
		return nil, err
	}
	v := url.Values{"secret": {secret}, "issuer": {s.cfg.SiteName}, "period": {"30"}, "digits": {"6"}, "algorithm": {"SHA1"}}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + s.cfg.SiteName + ":" + a.Email, RawQuery: v.Encode()}
	key, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("identity: totp: %w", err)
	}
	return s.sealSetup(a, key)
}

func setupFromKey(key *otp.Key) (*TOTPSetup, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("identity: totp qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("identity: totp qr: %w", err)
	}
	return &TOTPSetup{Secret: key.Secret(), URL: key.URL(), QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// validSecret reports whether secret is a base32 TOTP seed of 80 to 320 bits.
func validSecret(secret string) bool {
	_, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	return err == nil && len(secret) >= 16 && len(secret) <= 64
}

// totpStep returns the time step at which code is valid for secret within
// one step of now, or 0.
func totpStep(secret, code string, now time.Time) int64 {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0
	}
	for _, skew := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(skew*totpPeriod) * time.Second)
		ok, err := totp.ValidateCustom(code, secret, t, totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && ok {
			return t.Unix() / totpPeriod
		}
	}
	return 0
}

func normalizeRecoveryCode(code string) string {
	r := strings.NewReplacer(" ", "", "-", "")
	return strings.ToUpper(r.Replace(strings.TrimSpace(code)))
}

// checkSecondFactor verifies a TOTP code (refusing one already used) or
// consumes a recovery code, in tx.
func (s *Service) checkSecondFactor(ctx context.Context, tx *sql.Tx, a *Account, code string) (method string, ok bool, err error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return "", false, nil
	}
	if a.TOTPEnabled && len(code) == 6 {
		secret, err := s.box.Open(a.totpSecret, "totp:"+a.ID)
		if err != nil {
			return "", false, fmt.Errorf("identity: totp secret of %s: %w", a.ID, err)
		}
		step := totpStep(secret, code, s.clock.Now())
		if step == 0 {
			return "", false, nil
		}
		// Only a later step than the last one used counts: a code seen
		// over someone's shoulder cannot be replayed.
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, a.ID)
		if err != nil {
			return "", false, err
		}
		n, _ := res.RowsAffected()
		return "password+totp", n == 1, nil
	}
	rc := normalizeRecoveryCode(code)
	if len(rc) != 10 {
		return "", false, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL`,
		s.clock.Now(), a.ID, hashToken(a.ID+":"+rc))
	if err != nil {
		return "", false, err
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "recovery_code.use", Subject: "account:" + a.ID}); err != nil {
			return "", false, err
		}
	}
	return "password+recovery_code", n == 1, nil
}

// newRecoveryCodes replaces the account's recovery codes in tx and returns
// them formatted "XXXXX-XXXXX" (50 bits each).
func (s *Service) newRecoveryCodes(ctx context.Context, tx *sql.Tx, accountID string) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return nil, err
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	out := make([]string, 0, recoveryCodes)
	for range recoveryCodes {
		var b [7]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		c := enc.EncodeToString(b[:])[:10]
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)`, accountID, hashToken(accountID+":"+c)); err != nil {
			return nil, err
		}
		out = append(out, c[:5]+"-"+c[5:])
	}
	return out, nil
}

// EnableTOTP stores secret after code proves the app has it, and returns
// fresh recovery codes to show once. A staff session waiting at
// StageMFASetup becomes full (its token is renewed and returned); other
// sessions must be recently authenticated.
//
// sealed is TOTPSetup.Sealed from BeginTOTP for the same account.
func (s *Service) EnableTOTP(ctx context.Context, sess *Session, a *Account, sealed, code string) (codes []string, newToken string, err error) {
	if sess.Stage == StageFull && s.NeedsReauth(sess) {
		return nil, "", ErrReauth
	}
	if sess.Stage == StagePassword || sess.Stage == StageMFASetup && (a.Kind != Staff || a.HasSecondFactor()) {
		// Setting up a first factor after a password alone is only for
		// staff who have none: anyone else must present theirs.
		return nil, "", platform.Errorf(platform.CodeForbidden, "identity.mfa.required")
	}
	secret, err := s.openPending(a, sealed)
	if err != nil {
		return nil, "", err
	}
	step := totpStep(secret, code, s.clock.Now())
	if step == 0 {
		return nil, "", platform.Invalid("code", "identity.totp.wrong")
	}
	stored, err := s.box.Seal(secret, "totp:"+a.ID)
	if err != nil {
		return nil, "", err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET totp_secret = $1, totp_enabled_at = $2, totp_last_step = $3, updated_at = $2 WHERE id = $4`,
			stored, now, step, a.ID); err != nil {
			return err
		}
		if codes, err = s.newRecoveryCodes(ctx, tx, a.ID); err != nil {
			return err
		}
		if sess.Stage == StageMFASetup {
			if newToken, err = s.promote(ctx, tx, sess, "password+totp"); err != nil {
				return err
			}
			if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "signin", Subject: "account:" + a.ID,
				Detail: map[string]string{"method": "password+totp", "session": sess.ID, "stage": "full", "after": "factor setup"}}); err != nil {
				return err
			}
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "factor.totp.enable", Subject: "account:" + a.ID}); err != nil {
			return err
		}
		return s.factorEmail(ctx, tx, a, "factor.totp.on")
	})
	if err != nil {
		return nil, "", err
	}
	a.TOTPEnabled = true
	return codes, newToken, nil
}

// DisableTOTP removes the authenticator app and recovery codes. Staff
// cannot remove their only second factor.
func (s *Service) DisableTOTP(ctx context.Context, sess *Session, a *Account) error {
	if s.NeedsReauth(sess) {
		return ErrReauth
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if a.Kind == Staff {
			var keys int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM passkeys WHERE account_id = $1`, a.ID).Scan(&keys); err != nil {
				return err
			}
			if keys == 0 {
				return platform.Errorf(platform.CodeConflict, "identity.totp.staffrequired")
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET totp_secret = '', totp_enabled_at = NULL, updated_at = $1 WHERE id = $2`, s.clock.Now(), a.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, a.ID); err != nil {
			return err
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "factor.totp.disable", Subject: "account:" + a.ID}); err != nil {
			return err
		}
		return s.factorEmail(ctx, tx, a, "factor.totp.off")
	})
}

// RegenerateRecoveryCodes replaces the recovery codes.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, sess *Session, a *Account) ([]string, error) {
	if s.NeedsReauth(sess) {
		return nil, ErrReauth
	}
	if !a.TOTPEnabled {
		return nil, platform.Errorf(platform.CodeConflict, "identity.totp.notenabled")
	}
	var codes []string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if codes, err = s.newRecoveryCodes(ctx, tx, a.ID); err != nil {
			return err
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "factor.recovery_codes.regenerate", Subject: "account:" + a.ID}); err != nil {
			return err
		}
		return s.factorEmail(ctx, tx, a, "factor.codes")
	})
	return codes, err
}

// RecoveryCodesLeft counts unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL`, accountID).Scan(&n)
	return n, err
}

func (s *Service) factorEmail(ctx context.Context, tx *sql.Tx, a *Account, what string) error {
	name := s.cfg.SiteName
	return s.send(ctx, tx, a.Email, a.Lang, true, fmt.Sprintf(emailT(a.Lang, "factor.subject"), name),
		fmt.Sprintf(emailT(a.Lang, "factor.body"), name, emailT(a.Lang, what), s.PublicURL()))
}
