package identity

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
)

// emailText is the catalogue of identity emails. Kept here, beside the
// flows that send them, in both languages.
var emailText = map[string]map[string]string{
	"en": {
		"signup.subject":   "Your %s confirmation code: %s",
		"signup.body":      "Use this code to confirm your email address and create your %s account:\n\n    %s\n\nOr follow this link:\n%s\n\nThe code works once and expires in %d minutes. If you did not ask for this, you can ignore this email.\n",
		"exists.subject":   "You already have a %s account",
		"exists.body":      "Someone tried to create a %s account with this email address, which already has one.\n\nIf it was you, sign in at %s/sign-in, or reset your password at %s/recover.\n\nIf it was not you, you can ignore this email; nothing has changed.\n",
		"recover.subject":  "Your %s account recovery code: %s",
		"recover.body":     "Use this code to reset the password of your %s account:\n\n    %s\n\nOr follow this link:\n%s\n\nThe code works once and expires in %d minutes. If you did not ask for this, you can ignore this email; your password has not changed.\n",
		"noacct.subject":   "%s account recovery",
		"noacct.body":      "Someone asked to reset the password of a %s account for this email address, but there is no account for it.\n\nIf it was you, you may have used another address, or you can create an account at %s/sign-up.\n",
		"changed.subject":  "Your %s password was changed",
		"changed.body":     "The password of your %s account was changed and every other session was signed out.\n\nIf you did not do this, reset your password now at %s/recover and contact us.\n",
		"factor.subject":   "A sign-in method on your %s account changed",
		"factor.body":      "This change was made to your %s account: %s.\n\nIf you did not do this, reset your password now at %s/recover and contact us.\n",
		"factor.totp.on":   "an authentication app was added",
		"factor.totp.off":  "the authentication app was removed",
		"factor.codes":     "new recovery codes were made; the old ones no longer work",
		"factor.pk.add":    "a passkey was added",
		"factor.pk.remove": "a passkey was removed",
	},
	"es": {
		"signup.subject":   "Su código de confirmación de %s: %s",
		"signup.body":      "Use este código para confirmar su correo electrónico y crear su cuenta de %s:\n\n    %s\n\nO siga este enlace:\n%s\n\nEl código funciona una sola vez y vence en %d minutos. Si usted no lo pidió, puede ignorar este mensaje.\n",
		"exists.subject":   "Usted ya tiene una cuenta de %s",
		"exists.body":      "Alguien intentó crear una cuenta de %s con este correo electrónico, que ya tiene una.\n\nSi fue usted, inicie sesión en %s/sign-in o restablezca su contraseña en %s/recover.\n\nSi no fue usted, puede ignorar este mensaje; nada ha cambiado.\n",
		"recover.subject":  "Su código de recuperación de cuenta de %s: %s",
		"recover.body":     "Use este código para restablecer la contraseña de su cuenta de %s:\n\n    %s\n\nO siga este enlace:\n%s\n\nEl código funciona una sola vez y vence en %d minutos. Si usted no lo pidió, puede ignorar este mensaje; su contraseña no ha cambiado.\n",
		"noacct.subject":   "Recuperación de cuenta de %s",
		"noacct.body":      "Alguien pidió restablecer la contraseña de una cuenta de %s para este correo electrónico, pero no existe una cuenta con él.\n\nSi fue usted, quizás usó otra dirección, o puede crear una cuenta en %s/sign-up.\n",
		"changed.subject":  "Se cambió la contraseña de su cuenta de %s",
		"changed.body":     "Se cambió la contraseña de su cuenta de %s y se cerraron todas las demás sesiones.\n\nSi usted no lo hizo, restablezca su contraseña ahora en %s/recover y comuníquese con nosotros.\n",
		"factor.subject":   "Cambió un método de inicio de sesión de su cuenta de %s",
		"factor.body":      "Se hizo este cambio en su cuenta de %s: %s.\n\nSi usted no lo hizo, restablezca su contraseña ahora en %s/recover y comuníquese con nosotros.\n",
		"factor.totp.on":   "se agregó una aplicación de autenticación",
		"factor.totp.off":  "se quitó la aplicación de autenticación",
		"factor.codes":     "se crearon nuevos códigos de recuperación; los anteriores ya no funcionan",
		"factor.pk.add":    "se agregó una llave de acceso",
		"factor.pk.remove": "se quitó una llave de acceso",
	},
}

func emailT(lang, key string) string {
	if m, ok := emailText[lang]; ok {
		if s, ok := m[key]; ok {
			return s
		}
	}
	return emailText["en"][key]
}

func (s *Service) send(ctx context.Context, tx *sql.Tx, to, lang string, critical bool, subject, body string) error {
	if s.mailer == nil {
		return fmt.Errorf("identity: no mailer configured")
	}
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
