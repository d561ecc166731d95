package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/platform"
)

// NewStaff describes a staff account an operator creates.
type NewStaff struct {
	Email         string
	LegalName     string
	Password      string // optional: without one, the person sets it through account recovery
	AgencyID      string // optional with Role
	Role          Role
	PlatformAdmin bool
}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", platform.Invalid("role", fmt.Sprintf("role %q must be one of agency_admin, caseworker, finance, auditor", s))
}

// AddStaff creates a staff account, or adds a role to an existing staff
// account with that email. Staff emails are vouched for by the operator and
// count as confirmed. Staff must add a second factor at first sign-in, so
// their password may be as short as 8 characters. It is for the operator
// (the CLI and demo data), who may be told plainly that an address belongs
// to a citizen; agency administrators use AddAgencyStaff, which tells them
// nothing about who has an account.
func (s *Service) AddStaff(ctx context.Context, n NewStaff) (*Account, error) {
	email, key, err := NormalizeEmail(n.Email)
	if err != nil {
		return nil, platform.Invalid("email", fmt.Sprintf("%q is not an email address", n.Email))
	}
	n.LegalName = strings.TrimSpace(n.LegalName)
	if (n.AgencyID == "") != (n.Role == "") {
		return nil, platform.Invalid("role", "give both --agency and --role, or neither")
	}
	var id string
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := loadAccount(ctx, tx, "email_key", key)
		switch {
		case errors.Is(err, ErrNotFound):
			if n.LegalName == "" || !validName(n.LegalName) {
				return platform.Invalid("name", "a name (at most 200 characters) is required for a new account")
			}
			a = &Account{Kind: Staff, Email: email, LegalName: n.LegalName, PlatformAdmin: n.PlatformAdmin}
			if n.Password != "" {
				if p := s.checkPassword(n.Password, email, n.LegalName, true); p != "" {
					return platform.Invalid("password", passwordProblemText(p))
				}
				if a.passwordHash, err = password.Hash(n.Password, s.cfg.PasswordParams); err != nil {
					return err
				}
			}
			if err := s.insertAccount(ctx, tx, a, true); err != nil {
				return err
			}
			if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "account.create", Subject: "account:" + a.ID,
				Detail: map[string]any{"kind": "staff", "platform_admin": n.PlatformAdmin}}); err != nil {
				return err
			}
		case err != nil:
			return err
		case a.Kind != Staff:
			return platform.Errorf(platform.CodeConflict, "%s belongs to a citizen account; staff need their own account", email)
		default:
			if n.PlatformAdmin && !a.PlatformAdmin {
				if _, err := tx.ExecContext(ctx, `UPDATE accounts SET platform_admin = TRUE WHERE id = $1`, a.ID); err != nil {
					return err
				}
				if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "role.grant", Subject: "account:" + a.ID, Detail: map[string]string{"role": "platform_admin"}}); err != nil {
					return err
				}
			}
		}
		id = a.ID
		if n.AgencyID == "" {
			return nil
		}
		if _, err := agencyName(ctx, tx, n.AgencyID); err != nil {
			return err
		}
		_, err = s.grantRole(ctx, tx, a.ID, n.AgencyID, n.Role)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Account(ctx, id)
}

// agencyName returns the agency's name, or an invalid-input error naming
// the agency when there is none.
func agencyName(ctx context.Context, tx *sql.Tx, agencyID string) (string, error) {
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT name FROM agencies WHERE id = $1`, agencyID).Scan(&name); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", platform.Invalid("agency", fmt.Sprintf("agency %q does not exist", agencyID))
		}
		return "", err
	}
	return name, nil
}

// grantRole gives a staff account a role in an agency, auditing it, and
// reports whether the account did not have it before.
func (s *Service) grantRole(ctx context.Context, tx *sql.Tx, accountID, agencyID string, role Role) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO staff_roles (account_id, agency_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		accountID, agencyID, string(role), s.clock.Now())
	if err != nil {
		return false, err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return false, nil
	}
	_, err = s.audit.Append(ctx, tx, audit.Record{Action: "role.grant", Subject: "account:" + accountID, AgencyID: agencyID, Detail: map[string]string{"role": string(role)}})
	return err == nil, err
}

// AddAgencyStaff is how an agency administrator adds someone to their
// agency's staff with a role. Unlike AddStaff, which serves the operator,
// its answer never says whether the address has an account, and in
// particular not whether it has a citizen account: the checks that can
// fail depend only on what the administrator typed (a name is always
// required, though an existing staff account keeps its own), and every
// accepted request sends the address exactly one email, which tells its
// owner what happened:
//
//   - no account: a staff account is created with the role and the
//     email explains how to set a password;
//   - a staff account: the role is added and the email says so;
//   - a citizen account: nothing changes, the attempt is audited
//     (staff.add.refused), and the email explains that staff need an
//     account of their own under another address.
func (s *Service) AddAgencyStaff(ctx context.Context, n NewStaff) error {
	email, key, err := NormalizeEmail(n.Email)
	if err != nil {
		return platform.Invalid("email", fmt.Sprintf("%q is not an email address", n.Email))
	}
	n.LegalName = strings.TrimSpace(n.LegalName)
	if n.LegalName == "" || !validName(n.LegalName) {
		return platform.Invalid("name", "a name (at most 200 characters) is required")
	}
	if n.AgencyID == "" || n.Role == "" {
		return platform.Invalid("role", "an agency and a role are required")
	}
	if n.Password != "" || n.PlatformAdmin {
		return platform.Invalid("role", "an agency administrator sets neither passwords nor platform administrators")
	}
	cat, err := i18n.Load()
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		agency, err := agencyName(ctx, tx, n.AgencyID)
		if err != nil {
			return err
		}
		a, err := loadAccount(ctx, tx, "email_key", key)
		kind := "role"
		switch {
		case errors.Is(err, ErrNotFound):
			a = &Account{Kind: Staff, Email: email, LegalName: n.LegalName, Lang: string(i18n.English)}
			if err := s.insertAccount(ctx, tx, a, true); err != nil {
				return err
			}
			if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "account.create", Subject: "account:" + a.ID, AgencyID: n.AgencyID,
				Detail: map[string]any{"kind": "staff", "platform_admin": false}}); err != nil {
				return err
			}
			kind = "new"
		case err != nil:
			return err
		case a.Kind != Staff:
			if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "staff.add.refused", Subject: "account:" + a.ID, AgencyID: n.AgencyID,
				Detail: map[string]string{"reason": "citizen_account", "role": string(n.Role)}}); err != nil {
				return err
			}
			kind = "citizen"
		}
		if kind != "citizen" {
			if _, err := s.grantRole(ctx, tx, a.ID, n.AgencyID, n.Role); err != nil {
				return err
			}
		}
		lang, ok := i18n.Parse(a.Lang)
		if !ok {
			lang = i18n.English
		}
		site, role := s.cfg.SiteName, cat.T(lang, "role."+string(n.Role))
		subject := cat.T(lang, "identity.staffmail."+kind+".subject", site, agency)
		var body string
		switch kind {
		case "new":
			body = cat.T(lang, "identity.staffmail.new.body", agency, role, site, s.PublicURL()+"/recover")
		case "role":
			body = cat.T(lang, "identity.staffmail.role.body", agency, role, site)
		default:
			body = cat.T(lang, "identity.staffmail.citizen.body", agency, site)
		}
		return s.send(ctx, tx, email, string(lang), true, subject, body)
	})
}

// passwordProblemText explains a password problem in English for the
// operator's CLI, from the same catalogue the pages use.
func passwordProblemText(p password.Problem) string {
	cat, err := i18n.Load()
	if err != nil { // the catalogues are embedded: a build defect
		return string(p)
	}
	return cat.T(i18n.English, string(p))
}

// checkPassword checks a new password against the site's policy: the
// site's name and address and the person's own email and name are words
// it must not be built from.
func (s *Service) checkPassword(pw, email, legalName string, withMFA bool) password.Problem {
	host := ""
	if u, err := url.Parse(s.PublicURL()); err == nil {
		host = u.Hostname()
	}
	policy := password.Policy{SiteWords: password.SiteWords(s.cfg.SiteName, host)}
	return policy.Check(pw, password.Person{Email: email, Names: []string{legalName}, WithMFA: withMFA})
}

// Users lists accounts, staff first, for operators.
func (s *Service) Users(ctx context.Context, kind Kind) ([]*Account, error) {
	q := `SELECT id FROM accounts`
	var args []any
	if kind != "" {
		q += ` WHERE kind = $1`
		args = append(args, string(kind))
	}
	q += ` ORDER BY kind DESC, email_key`
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("identity: users: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*Account, 0, len(ids))
	for _, id := range ids {
		a, err := s.Account(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// NewCitizen describes a citizen account an operator creates directly (demo
// data, migrations from an older portal). The email counts as confirmed.
type NewCitizen struct {
	Email     string
	LegalName string
	Password  string
	Profile   *Profile
}

// CreateCitizen creates a citizen account without the email round trip.
func (s *Service) CreateCitizen(ctx context.Context, n NewCitizen) (*Account, error) {
	email, _, err := NormalizeEmail(n.Email)
	if err != nil {
		return nil, platform.Invalid("email", fmt.Sprintf("%q is not an email address", n.Email))
	}
	if p := s.checkPassword(n.Password, email, n.LegalName, false); p != "" {
		return nil, platform.Invalid("password", passwordProblemText(p))
	}
	hash, err := password.Hash(n.Password, s.cfg.PasswordParams)
	if err != nil {
		return nil, err
	}
	a := &Account{Kind: Citizen, Email: email, LegalName: strings.TrimSpace(n.LegalName), passwordHash: hash}
	if a.LegalName == "" || !validName(a.LegalName) {
		return nil, platform.Invalid("name", "a name (at most 200 characters) is required")
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertAccount(ctx, tx, a, true); err != nil {
			return err
		}
		_, err := s.audit.Append(ctx, tx, audit.Record{Action: "account.create", Subject: "account:" + a.ID, Detail: map[string]string{"kind": "citizen"}})
		return err
	})
	if err != nil {
		return nil, err
	}
	if n.Profile != nil {
		if err := s.UpdateProfile(ctx, a.ID, *n.Profile); err != nil {
			return nil, err
		}
	}
	return s.Account(ctx, a.ID)
}

// SetTOTPSecret gives an account an authenticator app with a known secret
// and returns its recovery codes. It is for operators (demo accounts whose
// secret is printed for the person trying the demo); people add apps
// through EnableTOTP, which proves they hold the secret.
func (s *Service) SetTOTPSecret(ctx context.Context, accountID, secret string) ([]string, error) {
	if !validSecret(secret) {
		return nil, platform.Invalid("secret", "the TOTP secret must be 16 to 64 base32 characters")
	}
	sealed, err := s.box.Seal(secret, "totp:"+accountID)
	if err != nil {
		return nil, err
	}
	var codes []string
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET totp_secret = $1, totp_enabled_at = $2, updated_at = $2 WHERE id = $3`, sealed, now, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if codes, err = s.newRecoveryCodes(ctx, tx, accountID); err != nil {
			return err
		}
		_, err = s.audit.Append(ctx, tx, audit.Record{Action: "factor.totp.enable", Subject: "account:" + accountID, Detail: map[string]string{"by": "operator"}})
		return err
	})
	return codes, err
}

// AgencyMember is a staff member of one agency with their roles there.
type AgencyMember struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	LegalName string `json:"legal_name"`
	Roles     []Role `json:"roles"`
}

// AgencyMembers lists the staff of an agency.
func (s *Service) AgencyMembers(ctx context.Context, agencyID string) ([]AgencyMember, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT a.id, a.email, a.legal_name, r.role FROM staff_roles r JOIN accounts a ON a.id = r.account_id
		WHERE r.agency_id = $1 ORDER BY a.legal_name, a.id, r.role`, agencyID)
	if err != nil {
		return nil, fmt.Errorf("identity: agency members: %w", err)
	}
	defer rows.Close()
	var out []AgencyMember
	for rows.Next() {
		var m AgencyMember
		var role Role
		if err := rows.Scan(&m.AccountID, &m.Email, &m.LegalName, &role); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].AccountID == m.AccountID {
			out[n-1].Roles = append(out[n-1].Roles, role)
			continue
		}
		m.Roles = []Role{role}
		out = append(out, m)
	}
	return out, rows.Err()
}
