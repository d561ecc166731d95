package identity

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Passkey is a WebAuthn credential registered to an account.
type Passkey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// ceremonyTTL bounds how long a browser has between begin and finish.
const ceremonyTTL = 5 * time.Minute

// ErrPasskey is the one answer to a passkey that did not work.
var ErrPasskey = platform.Invalid("passkey", "identity.passkey.failed")

// webAuthn returns the relying party for the current public URL. Passkeys
// are bound to the site's host name (the RP ID), so the site must be
// reached by name: https://services.example.gov, or http://localhost for
// the demo; browsers refuse IP addresses.
func (s *Service) webAuthn() (*webauthn.WebAuthn, error) {
	u, err := url.Parse(s.PublicURL())
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("identity: passkeys need a public URL, have %q", s.PublicURL())
	}
	return webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: s.cfg.SiteName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		},
	})
}

// passkeyUser adapts an account to webauthn.User. The user handle is the
// account id, which reveals nothing about the person.
type passkeyUser struct {
	a     *Account
	creds []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.a.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.a.Email }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.a.LegalName }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (s *Service) credentials(ctx context.Context, q querier, accountID string) ([]webauthn.Credential, error) {
	rows, err := q.QueryContext(ctx, `SELECT credential FROM passkeys WHERE account_id = $1 ORDER BY created_at`, accountID)
	if err != nil {
		return nil, fmt.Errorf("identity: passkeys: %w", err)
	}
	defer rows.Close()
	var out []webauthn.Credential
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, fmt.Errorf("identity: stored passkey: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Service) saveCeremony(ctx context.Context, kind, accountID string, sd *webauthn.SessionData) (string, error) {
	b, err := json.Marshal(sd)
	if err != nil {
		return "", err
	}
	id := uuid.Must(uuid.NewV7()).String()
	now := s.clock.Now()
	// Sweep old ceremonies while here; there are few.
	if _, err := s.db.Write().ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at < $1`, now); err != nil {
		return "", err
	}
	_, err = s.db.Write().ExecContext(ctx, `INSERT INTO passkey_ceremonies (id, kind, account_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		id, kind, accountID, string(b), now.Add(ceremonyTTL))
	return id, err
}

// takeCeremony loads and deletes a ceremony in tx: each works once.
func (s *Service) takeCeremony(ctx context.Context, tx *sql.Tx, id, kind, accountID string) (*webauthn.SessionData, error) {
	var data string
	var expires time.Time
	// DELETE … RETURNING: of two concurrent finishes, one gets the row.
	err := tx.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE id = $1 AND kind = $2 AND account_id = $3 RETURNING data, expires_at`,
		id, kind, accountID).Scan(&data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrPasskey
	}
	if err != nil {
		return nil, err
	}
	if !s.clock.Now().Before(expires) {
		return nil, ErrPasskey
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(data), &sd); err != nil {
		return nil, ErrPasskey
	}
	return &sd, nil
}

// BeginPasskeyRegistration returns the options for
// navigator.credentials.create and the ceremony id to finish with.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, sess *Session, a *Account) (options json.RawMessage, ceremony string, err error) {
	if s.NeedsReauth(sess) {
		return nil, "", ErrReauth
	}
	wa, err := s.webAuthn()
	if err != nil {
		return nil, "", err
	}
	creds, err := s.credentials(ctx, s.db.Read(), a.ID)
	if err != nil {
		return nil, "", err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, sd, err := wa.BeginRegistration(&passkeyUser{a: a, creds: creds}, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, "", fmt.Errorf("identity: begin passkey registration: %w", err)
	}
	id, err := s.saveCeremony(ctx, "register", a.ID, sd)
	if err != nil {
		return nil, "", err
	}
	b, err := json.Marshal(creation)
	return b, id, err
}

// FinishPasskeyRegistration verifies the browser's response and stores the
// passkey under name.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, sess *Session, a *Account, ceremony string, response []byte, name string) (*Passkey, error) {
	if s.NeedsReauth(sess) {
		return nil, ErrReauth
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 60 || !validName(name) {
		name = "Passkey"
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, ErrPasskey
	}
	wa, err := s.webAuthn()
	if err != nil {
		return nil, err
	}
	var pk *Passkey
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		sd, err := s.takeCeremony(ctx, tx, ceremony, "register", a.ID)
		if err != nil {
			return err
		}
		creds, err := s.credentials(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		cred, err := wa.CreateCredential(&passkeyUser{a: a, creds: creds}, *sd, parsed)
		if err != nil {
			return ErrPasskey
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		pk = &Passkey{ID: base64.RawURLEncoding.EncodeToString(cred.ID), Name: name, CreatedAt: now}
		if _, err := tx.ExecContext(ctx, `INSERT INTO passkeys (id, account_id, name, credential, created_at) VALUES ($1, $2, $3, $4, $5)`,
			pk.ID, a.ID, name, string(raw), now); err != nil {
			return err
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "factor.passkey.add", Subject: "account:" + a.ID, Detail: map[string]string{"passkey": pk.ID, "name": name}}); err != nil {
			return err
		}
		return s.factorEmail(ctx, tx, a, "factor.pk.add")
	})
	if err != nil {
		return nil, err
	}
	return pk, nil
}

// BeginPasskeySignIn returns options for navigator.credentials.get with no
// account named: the person picks a passkey and it says who they are.
func (s *Service) BeginPasskeySignIn(ctx context.Context) (options json.RawMessage, ceremony string, err error) {
	wa, err := s.webAuthn()
	if err != nil {
		return nil, "", err
	}
	assertion, sd, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("identity: begin passkey sign-in: %w", err)
	}
	id, err := s.saveCeremony(ctx, "login", "", sd)
	if err != nil {
		return nil, "", err
	}
	b, err := json.Marshal(assertion)
	return b, id, err
}

// FinishPasskeySignIn verifies a passkey assertion and signs its account in
// fully: a passkey with user verification is phishing-resistant
// multi-factor authentication on its own.
func (s *Service) FinishPasskeySignIn(ctx context.Context, ceremony string, response []byte, c Client) (string, *Session, error) {
	if err := s.throttleCheck(ctx, s.db.Read(), ipKey(c.IP)); err != nil {
		return "", nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", nil, ErrPasskey
	}
	wa, err := s.webAuthn()
	if err != nil {
		return "", nil, err
	}
	var token string
	var sess *Session
	var failed bool
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		sd, err := s.takeCeremony(ctx, tx, ceremony, "login", "")
		if err != nil {
			return err
		}
		var account *Account
		handler := func(rawID, userHandle []byte) (webauthn.User, error) {
			a, err := loadAccount(ctx, tx, "id", string(userHandle))
			if err != nil || a.Disabled {
				return nil, ErrPasskey
			}
			creds, err := s.credentials(ctx, tx, a.ID)
			if err != nil {
				return nil, err
			}
			account = a
			return &passkeyUser{a: a, creds: creds}, nil
		}
		_, cred, err := wa.ValidatePasskeyLogin(handler, *sd, parsed)
		if err != nil {
			failed = true
			if _, lerr := s.throttleCount(ctx, tx, ipKey(c.IP), s.ipRule(), false); lerr != nil {
				return lerr
			}
			_, aerr := s.audit.Append(ctx, tx, audit.Record{Action: "signin.failed", Subject: "passkey", Detail: map[string]string{"ip": c.IP, "method": "passkey"}})
			return aerr
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		id := base64.RawURLEncoding.EncodeToString(cred.ID)
		if _, err := tx.ExecContext(ctx, `UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3 AND account_id = $4`, string(raw), now, id, account.ID); err != nil {
			return err
		}
		token, sess, err = s.createSession(ctx, tx, account.ID, StageFull, "passkey", c)
		if err != nil {
			return err
		}
		_, err = s.audit.Append(s.as(ctx, account), tx, audit.Record{Action: "signin", Subject: "account:" + account.ID,
			Detail: map[string]string{"method": "passkey", "passkey": id, "session": sess.ID, "ip": c.IP}})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	if failed {
		return "", nil, ErrPasskey
	}
	return token, sess, nil
}

// Passkeys lists the account's passkeys.
func (s *Service) Passkeys(ctx context.Context, accountID string) ([]Passkey, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, name, created_at, last_used_at FROM passkeys WHERE account_id = $1 ORDER BY created_at`, accountID)
	if err != nil {
		return nil, fmt.Errorf("identity: passkeys: %w", err)
	}
	defer rows.Close()
	var out []Passkey
	for rows.Next() {
		var p Passkey
		var used sql.NullTime
		if err := rows.Scan(&p.ID, &p.Name, &p.CreatedAt, &used); err != nil {
			return nil, err
		}
		if used.Valid {
			t := used.Time.UTC()
			p.LastUsedAt = &t
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RemovePasskey deletes one of the account's passkeys. Staff cannot remove
// their last second factor.
func (s *Service) RemovePasskey(ctx context.Context, sess *Session, a *Account, id string) error {
	if s.NeedsReauth(sess) {
		return ErrReauth
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		// Count factors inside the transaction: two removals at once must
		// not both see "one left".
		if a.Kind == Staff {
			var keys int
			var totp bool
			if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM passkeys WHERE account_id = $1), totp_enabled_at IS NOT NULL FROM accounts WHERE id = $1`,
				a.ID).Scan(&keys, &totp); err != nil {
				return err
			}
			if !totp && keys <= 1 {
				return platform.Errorf(platform.CodeConflict, "identity.totp.staffrequired")
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM passkeys WHERE id = $1 AND account_id = $2`, id, a.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.Errorf(platform.CodeNotFound, "identity.passkey.notfound")
		}
		if _, err := s.audit.Append(s.as(ctx, a), tx, audit.Record{Action: "factor.passkey.remove", Subject: "account:" + a.ID, Detail: map[string]string{"passkey": id}}); err != nil {
			return err
		}
		return s.factorEmail(ctx, tx, a, "factor.pk.remove")
	})
}
