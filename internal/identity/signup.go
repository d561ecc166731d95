package identity

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
)

// emailText is the catalogue of identity emails. Kept here, beside the
// flows that send them, in both languages.

// emailT is the text of an account email (identity.mail.KEY in the
// catalogues, unformatted: callers fill in the site name and links).
func emailT(lang, key string) string {
	l, _ := i18n.Parse(lang)
	return i18n.Messages().T(l, "identity.mail."+key)
}

func (s *Service) send(ctx context.Context, tx *sql.Tx, to, lang string, critical bool, subject, body string) error {
	return s.mailer.SendEmail(ctx, tx, Message{To: to, Subject: subject, Text: body, Lang: lang, Critical: critical})
}

func (s *Service) link(path, token string) string {
	return s.PublicURL() + path + "?token=" + url.QueryEscape(token)
}

// StartSignUp sends a confirmation code to email and returns the challenge
// id the next page asks the code for. When the address already has an
// account, its owner is told so by email instead, and the returned id is
// that of a challenge that can never be confirmed: the response is the
// same either way.
func (s *Service) StartSignUp(ctx context.Context, email, lang string, c Client) (string, error) {
	email, key, lang, err := s.codeRequest(ctx, email, lang, c)
	if err != nil {
		return "", err
	}
	var id string
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE email_key = $1`, key).Scan(&existing)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		var code, token string
		id, code, token, err = s.issueChallenge(ctx, tx, PurposeSignUp, key, existing)
		if err != nil {
			return err
		}
		name := s.cfg.SiteName
		if existing != "" {
			// Spoil the challenge: the owner never gets its code.
			if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET expires_at = created_at WHERE id = $1`, id); err != nil {
				return err
			}
			return s.send(ctx, tx, email, lang, true, fmt.Sprintf(emailT(lang, "exists.subject"), name),
				fmt.Sprintf(emailT(lang, "exists.body"), name, s.PublicURL(), s.PublicURL()))
		}
		return s.send(ctx, tx, email, lang, true, fmt.Sprintf(emailT(lang, "signup.subject"), name, code),
			fmt.Sprintf(emailT(lang, "signup.body"), name, code, s.link("/sign-up/confirm", token), int(s.cfg.CodeTTL.Minutes())))
	})
	return id, err
}

// codeRequest is the start of every flow that emails a code to an address
// someone typed: check the address, settle the language, and count the
// request against the client.
func (s *Service) codeRequest(ctx context.Context, email, lang string, c Client) (string, string, string, error) {
	email, key, err := NormalizeEmail(email)
	if err != nil {
		return "", "", "", err
	}
	if lang != "es" {
		lang = "en"
	}
	if err := s.reserveCodeSend(ctx, c); err != nil {
		return "", "", "", err
	}
	return email, key, lang, nil
}

// SignUpDetails is what a person gives after confirming their address.
type SignUpDetails struct {
	LegalName string
	Password  string
	Lang      string
}

// CompleteSignUp creates the citizen account for a confirmed address and
// signs it in. completion is the token ConfirmCode or ConfirmLink returned.
func (s *Service) CompleteSignUp(ctx context.Context, completion string, d SignUpDetails, c Client) (token string, a *Account, err error) {
	d.LegalName = strings.TrimSpace(d.LegalName)
	fe := FieldErrors{}
	if d.LegalName == "" {
		fe["legal_name"] = "identity.name.required"
	} else if !validName(d.LegalName) {
		fe["legal_name"] = "identity.name.invalid"
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		ch, err := s.completed(ctx, tx, PurposeSignUp, completion)
		if err != nil {
			return err
		}
		if p := s.checkPassword(d.Password, ch.EmailKey, d.LegalName, false); p != "" {
			fe["password"] = string(p)
		}
		if len(fe) > 0 {
			return fe
		}
		hash, err := password.Hash(d.Password, s.cfg.PasswordParams)
		if err != nil {
			return err
		}
		a = &Account{Kind: Citizen, Email: ch.EmailKey, LegalName: d.LegalName, Lang: d.Lang, passwordHash: hash}
		if err := s.insertAccount(ctx, tx, a, true); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE email_challenges SET account_id = $1 WHERE id = $2`, a.ID, ch.ID); err != nil {
			return err
		}
		var sess *Session
		token, sess, err = s.createSession(ctx, tx, a.ID, StageFull, "password", c)
		if err != nil {
			return err
		}
		actx := platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: a.ID})
		if _, err := s.audit.Append(actx, tx, audit.Record{Action: "account.create", Subject: "account:" + a.ID, Detail: map[string]string{"kind": "citizen"}}); err != nil {
			return err
		}
		_, err = s.audit.Append(actx, tx, audit.Record{Action: "signin", Subject: "account:" + a.ID,
			Detail: map[string]string{"method": "signup", "session": sess.ID, "ip": c.IP}})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return token, a, nil
}
