package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
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
// their password may be as short as 8 characters.
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
				if p := password.Check(n.Password, email, true); p != "" {
					return platform.Invalid("password", passwordProblemText[p])
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
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM agencies WHERE id = $1`, n.AgencyID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return platform.Invalid("agency", fmt.Sprintf("agency %q does not exist", n.AgencyID))
			}
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO staff_roles (account_id, agency_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			a.ID, n.AgencyID, string(n.Role), s.clock.Now())
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			_, err = s.audit.Append(ctx, tx, audit.Record{Action: "role.grant", Subject: "account:" + a.ID, AgencyID: n.AgencyID, Detail: map[string]string{"role": string(n.Role)}})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Account(ctx, id)
}

// passwordProblemText explains password problems in English for the CLI.
var passwordProblemText = map[password.Problem]string{
	password.TooShort:    "the password must be at least 8 characters for staff (who always use a second factor)",
	password.TooLong:     "the password must be at most 256 characters",
	password.Common:      "that password is on the list of common or breached passwords; choose another",
	password.ContainsID:  "the password must not be the email address or based on it",
	password.InvalidUTF8: "the password is not valid text",
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
