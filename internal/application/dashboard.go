package application

import (
	"context"
	"fmt"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// DashboardLimit is how many applications the dashboard lists: the most
// recently changed first.
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
// recently changed first, with each case's state, and audits the listing
// ("application.list"). Expired and withdrawn applications are left out.
// Only a signed-in person has applications of their own.
func (s *Service) Dashboard(ctx context.Context, by platform.Actor) (drafts, submitted []Summary, err error) {
	if !by.SignedIn() {
		return nil, nil, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	accountID := by.ID
	defer func() {
		if err != nil {
			return
		}
		if _, aerr := s.cfg.Audit.Write(platform.WithActor(ctx, by), audit.Record{Action: "application.list", Subject: "account:" + accountID,
			Detail: map[string]any{"drafts": len(drafts), "submitted": len(submitted)}}); aerr != nil {
			drafts, submitted, err = nil, nil, aerr
		}
	}()
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+columns+` FROM applications
		WHERE account_id = $1 AND status IN ('draft', 'submitted') ORDER BY updated_at DESC, id DESC LIMIT $2`, accountID, DashboardLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("application: dashboard: %w", err)
	}
	var apps []*Application
	for rows.Next() {
		a, err := scanApplication(rows)
		if err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("application: dashboard: %w", err)
		}
		apps = append(apps, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("application: dashboard: %w", err)
	}
	var cases map[string]casework.Case
	for _, a := range apps {
		f, err := s.Form(ctx, a.ServiceID, a.ServiceVersion)
		if err != nil {
			return nil, nil, err
		}
		sum := Summary{App: a, ServiceTitle: f.Manifest.Title, Kind: f.Manifest.Kind}
		if a.Status == StatusDraft {
			drafts = append(drafts, sum)
			continue
		}
		if cases == nil { // one query for all of the person's cases, only if needed
			list, err := s.cfg.Cases.ForAccount(ctx, accountID)
			if err != nil {
				return nil, nil, err
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
	return drafts, submitted, nil
}
