package application

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// DashboardLimit is how many applications one page of the dashboard
// lists, the most recently changed first; a link leads to older ones.
const DashboardLimit = 100

// Summary is one line of a citizen's dashboard.
type Summary struct {
	App          *Application
	ServiceTitle manifest.Text
	// Kind is the service's kind of transaction (application, report...),
	// which the dashboard groups by.
	Kind manifest.Kind
	// For submitted applications: the case's workflow state, its title
	// in the manifest, and whether the case waits on the citizen.
	State        string
	StateTitle   manifest.Text
	ActionNeeded bool
}

// Dashboard lists by's own drafts and submitted applications, most
// recently changed first, with each case's state: the first page of
// DashboardPage.
func (s *Service) Dashboard(ctx context.Context, by platform.Actor) (drafts, submitted []Summary, err error) {
	p, err := s.DashboardPage(ctx, by, "")
	return p.Drafts, p.Submitted, err
}

// DashboardPage is one page of a person's applications.
type DashboardPage struct {
	Drafts, Submitted []Summary
	// Older is where the next page starts (DashboardPage's older): the
	// id of this page's last application, or "" when none is older.
	Older string
}

// DashboardPage lists by's own drafts and submitted applications, most
// recently changed first, at most DashboardLimit, with each case's state,
// and audits the listing ("application.list"). older, when not "", is
// the Older of the page before: the list goes on after that application
// (one of by's own; anything else is invalid input). Expired and
// withdrawn applications are left out. Only a signed-in person has
// applications of their own. The cost follows the person's own rows: the
// index (account_id, status, updated_at) bounds every page.
func (s *Service) DashboardPage(ctx context.Context, by platform.Actor, older string) (page DashboardPage, err error) {
	if !by.SignedIn() {
		return DashboardPage{}, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	accountID := by.ID
	defer func() {
		if err != nil {
			return
		}
		detail := map[string]any{"drafts": len(page.Drafts), "submitted": len(page.Submitted)}
		if older != "" {
			detail["older"] = older
		}
		if _, aerr := s.cfg.Audit.Write(platform.WithActor(ctx, by), audit.Record{Action: "application.list", Subject: "account:" + accountID,
			Detail: detail}); aerr != nil {
			page, err = DashboardPage{}, aerr
		}
	}()
	q := `SELECT ` + columns + ` FROM applications WHERE account_id = $1 AND status IN ('draft', 'submitted')`
	args := []any{accountID}
	if older != "" {
		// The cursor is one of the person's own applications: its
		// (updated_at, id) bounds the page; the second condition breaks
		// ties between applications changed in the same instant.
		var at time.Time
		err := s.db.Read().QueryRowContext(ctx, `SELECT updated_at FROM applications WHERE id = $1 AND account_id = $2 AND status IN ('draft', 'submitted')`,
			older, accountID).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			return DashboardPage{}, platform.Invalid("older", "the page to continue from does not exist")
		}
		if err != nil {
			return DashboardPage{}, fmt.Errorf("application: dashboard: %w", err)
		}
		args = append(args, at.UTC(), older)
		q += ` AND updated_at <= $2 AND (updated_at < $2 OR id < $3)`
	}
	args = append(args, DashboardLimit+1)
	q += fmt.Sprintf(` ORDER BY updated_at DESC, id DESC LIMIT $%d`, len(args))
	rows, err := s.db.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return DashboardPage{}, fmt.Errorf("application: dashboard: %w", err)
	}
	var apps []*Application
	for rows.Next() {
		a, err := scanApplication(rows)
		if err != nil {
			rows.Close()
			return DashboardPage{}, fmt.Errorf("application: dashboard: %w", err)
		}
		apps = append(apps, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return DashboardPage{}, fmt.Errorf("application: dashboard: %w", err)
	}
	if len(apps) > DashboardLimit {
		apps = apps[:DashboardLimit]
		page.Older = apps[len(apps)-1].ID
	}
	var drafts, submitted []Summary
	var cases map[string]casework.Case
	for _, a := range apps {
		f, err := s.Form(ctx, a.ServiceID, a.ServiceVersion)
		if err != nil {
			return DashboardPage{}, err
		}
		sum := Summary{App: a, ServiceTitle: f.Manifest.Title, Kind: f.Manifest.Kind}
		if a.Status == StatusDraft {
			drafts = append(drafts, sum)
			continue
		}
		if cases == nil { // one query for all of the person's cases, only if needed
			list, err := s.cfg.Cases.ForAccount(ctx, accountID)
			if err != nil {
				return DashboardPage{}, err
			}
			cases = make(map[string]casework.Case, len(list))
			for _, c := range list {
				cases[c.ID] = c
			}
		}
		if c, ok := cases[a.ID]; ok {
			sum.State = c.State
			sum.StateTitle = f.Manifest.Workflow.States[c.State].Title
			sum.ActionNeeded = c.WaitingOn == casework.WaitingOnCitizen
		}
		submitted = append(submitted, sum)
	}
	page.Drafts, page.Submitted = drafts, submitted
	return page, nil
}
