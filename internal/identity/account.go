package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
)

// ErrNotFound is returned for an account that does not exist.
var ErrNotFound = platform.Errorf(platform.CodeNotFound, "No such account.")

// NormalizeEmail checks an address a person typed and returns it trimmed,
// with the key used to look it up (lowercased). It accepts only a bare
// address ("name@example.gov"), not "Name <name@example.gov>".
func NormalizeEmail(s string) (email, key string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", platform.Invalid("email", "identity.email.required")
	}
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", "", platform.Invalid("email", "identity.email.invalid")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", "", platform.Invalid("email", "identity.email.invalid")
	}
	return s, strings.ToLower(s), nil
}

const accountColumns = `id, kind, email, email_verified_at, password_hash, platform_admin, legal_name, date_of_birth,
	phone, lang, residential_address, mailing_address, totp_secret, totp_enabled_at, totp_last_step, created_at, disabled_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanAccount(r rowScanner) (*Account, error) {
	var a Account
	var verified, totpAt, disabled sql.NullTime
	var res, mailing string
	err := r.Scan(&a.ID, &a.Kind, &a.Email, &verified, &a.passwordHash, &a.PlatformAdmin, &a.LegalName, &a.DateOfBirth,
		&a.Phone, &a.Lang, &res, &mailing, &a.totpSecret, &totpAt, &a.totpLastStep, &a.CreatedAt, &disabled)
	if err != nil {
		return nil, err
	}
	if verified.Valid {
		t := verified.Time.UTC()
		a.emailVerifiedAt = &t
		a.EmailVerified = true
	}
	a.TOTPEnabled = totpAt.Valid
	a.Disabled = disabled.Valid
	a.CreatedAt = a.CreatedAt.UTC()
	_ = json.Unmarshal([]byte(res), &a.Residential)
	_ = json.Unmarshal([]byte(mailing), &a.Mailing)
	return &a, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadAccount reads an account with its memberships and passkey count.
func loadAccount(ctx context.Context, q querier, where string, arg any) (*Account, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE `+where+` = $1`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: load account: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT agency_id, role FROM staff_roles WHERE account_id = $1 ORDER BY agency_id, role`, a.ID)
	if err != nil {
		return nil, fmt.Errorf("identity: load roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.AgencyID, &m.Role); err != nil {
			return nil, err
		}
		a.Memberships = append(a.Memberships, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM passkeys WHERE account_id = $1`, a.ID).Scan(&a.PasskeyCount); err != nil {
		return nil, fmt.Errorf("identity: count passkeys: %w", err)
	}
	return a, nil
}

// Account returns the account with id.
func (s *Service) Account(ctx context.Context, id string) (*Account, error) {
	return loadAccount(ctx, s.db.HotRead(), "id", id)
}

// AccountByEmail returns the account with email (any case).
func (s *Service) AccountByEmail(ctx context.Context, email string) (*Account, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	return loadAccount(ctx, s.db.Read(), "email_key", key)
}

// insertAccount stores a new account in tx.
func (s *Service) insertAccount(ctx context.Context, tx *sql.Tx, a *Account, verified bool) error {
	now := s.clock.Now()
	a.ID = uuid.Must(uuid.NewV7()).String()
	a.CreatedAt = now
	var verifiedAt any
	if verified {
		verifiedAt = now
		a.EmailVerified = true
	}
	if a.Lang == "" {
		a.Lang = "en"
	}
	_, key, err := NormalizeEmail(a.Email)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO accounts (id, kind, email, email_key, email_verified_at, password_hash, platform_admin,
		legal_name, lang, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		a.ID, string(a.Kind), a.Email, key, verifiedAt, a.passwordHash, a.PlatformAdmin, a.LegalName, a.Lang, now)
	if storage.IsUniqueViolation(err) {
		return platform.Errorf(platform.CodeConflict, "An account with this email address already exists.")
	}
	return err
}

// Profile is what a person may change about themselves.
type Profile struct {
	LegalName   string  `json:"legal_name"`
	DateOfBirth string  `json:"date_of_birth"`
	Phone       string  `json:"phone"`
	Lang        string  `json:"lang"`
	Residential Address `json:"residential_address"`
	Mailing     Address `json:"mailing_address"`
}

var (
	phonePattern = regexp.MustCompile(`^\+?[0-9 ()\-.]{7,20}$`)
	statePattern = regexp.MustCompile(`^[A-Z]{2}$`)
)

// FieldErrors collects invalid fields; values are i18n message keys.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	parts := make([]string, 0, len(f))
	for k, v := range f {
		parts = append(parts, k+": "+v)
	}
	return "identity: invalid fields: " + strings.Join(parts, ", ")
}

func validName(s string) bool {
	return utf8.RuneCountInString(s) <= 200 && !strings.ContainsAny(s, "<>\x00")
}

// Validate returns the problems with p, keyed by field name.
func (p *Profile) Validate(now time.Time) FieldErrors {
	fe := FieldErrors{}
	p.LegalName = strings.TrimSpace(p.LegalName)
	if p.LegalName == "" {
		fe["legal_name"] = "identity.name.required"
	} else if !validName(p.LegalName) {
		fe["legal_name"] = "identity.name.invalid"
	}
	if p.DateOfBirth = strings.TrimSpace(p.DateOfBirth); p.DateOfBirth != "" {
		d, err := time.Parse("2006-01-02", p.DateOfBirth)
		if err != nil || d.After(now) || d.Year() < now.Year()-130 {
			fe["date_of_birth"] = "identity.dob.invalid"
		}
	}
	if p.Phone = strings.TrimSpace(p.Phone); p.Phone != "" && !phonePattern.MatchString(p.Phone) {
		fe["phone"] = "identity.phone.invalid"
	}
	if p.Lang != "en" && p.Lang != "es" {
		p.Lang = "en"
	}
	checkAddr := func(prefix string, a *Address) {
		a.Line1, a.Line2, a.City = strings.TrimSpace(a.Line1), strings.TrimSpace(a.Line2), strings.TrimSpace(a.City)
		a.State, a.ZIP = strings.ToUpper(strings.TrimSpace(a.State)), strings.TrimSpace(a.ZIP)
		if a.IsZero() {
			return
		}
		for _, f := range []struct{ name, v string }{{"line1", a.Line1}, {"line2", a.Line2}, {"city", a.City}} {
			if !validName(f.v) {
				fe[prefix+"_"+f.name] = "identity.address.invalid"
			}
		}
		if a.Line1 == "" {
			fe[prefix+"_line1"] = "identity.address.line1"
		}
		if a.City == "" {
			fe[prefix+"_city"] = "identity.address.city"
		}
		if !statePattern.MatchString(a.State) {
			fe[prefix+"_state"] = "identity.address.state"
		}
		if z, err := tenancy.NormalizeZIP(a.ZIP); err != nil {
			fe[prefix+"_zip"] = "identity.address.zip"
		} else {
			a.ZIP = z
		}
	}
	checkAddr("residential", &p.Residential)
	checkAddr("mailing", &p.Mailing)
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// UpdateProfileAs changes the signed-in person's own profile. Changing the
// phone number (a way to reach them about their account) needs a recent
// authentication, like other sensitive changes: ErrReauth otherwise.
func (s *Service) UpdateProfileAs(ctx context.Context, sess *Session, a *Account, p Profile) error {
	if strings.TrimSpace(p.Phone) != a.Phone && s.NeedsReauth(sess) {
		if fe := p.Validate(s.clock.Now()); fe != nil {
			return fe
		}
		return FieldErrors{"phone": "identity.phone.reauth"}
	}
	return s.UpdateProfile(ctx, a.ID, p)
}

// UpdateProfile changes the profile of account id, audited. Operators and
// seeding call it directly; people go through UpdateProfileAs.
func (s *Service) UpdateProfile(ctx context.Context, id string, p Profile) error {
	if fe := p.Validate(s.clock.Now()); fe != nil {
		return fe
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET legal_name = $1, date_of_birth = $2, phone = $3, lang = $4,
			residential_address = $5, mailing_address = $6, updated_at = $7 WHERE id = $8`,
			p.LegalName, p.DateOfBirth, p.Phone, p.Lang, mustJSON(p.Residential), mustJSON(p.Mailing), s.clock.Now(), id)
		if err != nil {
			return fmt.Errorf("identity: update profile: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		// The audit entry names the fields, not their values: the log is
		// read more widely than the profile itself.
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "profile.update", Subject: "account:" + id,
			Detail: map[string]any{"fields": []string{"legal_name", "date_of_birth", "phone", "lang", "residential_address", "mailing_address"}}})
		return err
	})
}

// Jurisdictions returns the jurisdictions serving the account's residential
// address, most local first; empty when there is no address.
func (s *Service) Jurisdictions(ctx context.Context, a *Account) ([]tenancy.Jurisdiction, error) {
	if a.Residential.ZIP == "" {
		return nil, nil
	}
	return s.resolver.ResolveZIP(ctx, a.Residential.ZIP)
}

// RecordRead audits that actor read the account's data (for staff views).
func (s *Service) RecordRead(ctx context.Context, accountID, what string) error {
	_, err := s.audit.Write(ctx, audit.Record{Action: "account.read", Subject: "account:" + accountID, Detail: map[string]string{"what": what}})
	return err
}

// AccountContact is what a message to an account needs: its address and
// language, and whether it may be written to at all.
type AccountContact struct {
	Kind     Kind
	Email    string
	Lang     string
	Disabled bool
}

// Contacts returns the contact of each of ids that exists, in one
// statement (a bulk send asks for a hundred accounts at a time, where
// Account costs three statements each). An id that does not exist is
// absent from the map.
func (s *Service) Contacts(ctx context.Context, ids []string) (map[string]AccountContact, error) {
	out := make(map[string]AccountContact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, kind, email, lang, disabled_at IS NOT NULL FROM accounts WHERE `+s.db.AnyOf("id", 1),
		s.db.ListArg(ids))
	if err != nil {
		return nil, fmt.Errorf("identity: contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c AccountContact
		if err := rows.Scan(&id, &c.Kind, &c.Email, &c.Lang, &c.Disabled); err != nil {
			return nil, fmt.Errorf("identity: contacts: %w", err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: contacts: %w", err)
	}
	return out, nil
}
