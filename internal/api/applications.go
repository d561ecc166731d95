package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// Application is a submitted application as its applicant sees it.
type Application struct {
	ID             string        `json:"id"`
	Reference      string        `json:"reference" jsonschema:"example=DMV-2026-000123"`
	ServiceID      string        `json:"service_id"`
	ServiceVersion int           `json:"service_version"`
	ServiceTitle   manifest.Text `json:"service_title"`
	AgencyID       string        `json:"agency_id"`
	State          string        `json:"state"`
	StateTitle     manifest.Text `json:"state_title"`
	// WaitingOn says whose move it is: agency, citizen (an action is
	// needed) or nobody (closed).
	WaitingOn string     `json:"waiting_on" jsonschema:"enum=agency,enum=citizen,enum=nobody"`
	Overdue   bool       `json:"overdue"`
	OpenedAt  time.Time  `json:"opened_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
}

// Draft is an application the person has started and not submitted.
type Draft struct {
	ID             string        `json:"id"`
	ServiceID      string        `json:"service_id"`
	ServiceVersion int           `json:"service_version"`
	ServiceTitle   manifest.Text `json:"service_title"`
	ResumeURL      string        `json:"resume_url"` // where the person carries on, in the browser
	UpdatedAt      time.Time     `json:"updated_at"`
	ExpiresAt      *time.Time    `json:"expires_at,omitempty"` // deleted after this unless changed
}

// ApplicationList is the signed-in person's submitted applications, newest
// first, and their drafts, most recently changed first.
type ApplicationList struct {
	Applications []Application `json:"applications"`
	Drafts       []Draft       `json:"drafts"`
}

// Drafts is what the application endpoints need of the applying block.
type Drafts interface {
	DashboardPage(ctx context.Context, by platform.Actor, older string) (application.DashboardPage, error)
}

// Cases is what the application endpoints need of the casework block.
type Cases interface {
	// ViewApplicantCase decides whether the caller may see the case (its
	// applicant) and audits the read; ApplicantCases lists the caller's
	// cases and audits the listing.
	ViewApplicantCase(ctx context.Context, actor platform.Actor, id string) (casework.Case, error)
	ApplicantCases(ctx context.Context, actor platform.Actor) ([]casework.Case, error)
}

// Services is what they need of the catalog block.
type Services interface {
	Service(ctx context.Context, id string, version int) (catalog.Published, error)
}

// Applications serves a citizen's applications.
type Applications struct {
	Cases    Cases
	Services Services
	Drafts   Drafts // nil: no drafts listed
}

// Register adds the application operations to a.
func (h *Applications) Register(a *API) {
	a.Handle(Op{
		Method: http.MethodGet, Path: "/api/v1/applications", ID: "listApplications", Tag: "applications",
		Summary: "The signed-in person's submitted applications and drafts", Auth: Citizen,
		Response: ApplicationList{},
	}, h.list)
	a.Handle(Op{
		Method: http.MethodGet, Path: "/api/v1/applications/{id}", ID: "getApplication", Tag: "applications",
		Summary: "One of the signed-in person's applications", Auth: Citizen,
		Description: "Another person's application answers 404, exactly as one that does not exist.",
		Params:      []Param{{Name: "id", In: "path", Description: "The application id"}},
		Response:    Application{},
	}, h.get)
}

func (h *Applications) list(r *http.Request, p Principal) (any, error) {
	ctx := r.Context()
	cases, err := h.Cases.ApplicantCases(ctx, platform.ActorFrom(ctx))
	if err != nil {
		return nil, err
	}
	out := ApplicationList{Applications: []Application{}, Drafts: []Draft{}}
	if h.Drafts != nil {
		// Every draft, page after page (the person's own rows).
		var drafts []application.Summary
		for older := ""; ; {
			page, err := h.Drafts.DashboardPage(ctx, platform.ActorFrom(ctx), older)
			if err != nil {
				return nil, err
			}
			drafts = append(drafts, page.Drafts...)
			if older = page.Older; older == "" {
				break
			}
		}
		for _, d := range drafts {
			out.Drafts = append(out.Drafts, Draft{ID: d.App.ID, ServiceID: d.App.ServiceID, ServiceVersion: d.App.ServiceVersion,
				ServiceTitle: d.ServiceTitle, ResumeURL: "/apply/" + d.App.ID, UpdatedAt: d.App.UpdatedAt, ExpiresAt: d.App.ExpiresAt})
		}
	}
	titles := map[string]*manifest.Manifest{}
	for _, c := range cases {
		app, err := h.describe(ctx, c, titles)
		if err != nil {
			return nil, err
		}
		out.Applications = append(out.Applications, app)
	}
	return out, nil
}

func (h *Applications) get(r *http.Request, p Principal) (any, error) {
	ctx := r.Context()
	c, err := h.Cases.ViewApplicantCase(ctx, platform.ActorFrom(ctx), r.PathValue("id"))
	if platform.ErrorCode(err) == platform.CodeNotFound {
		err = platform.Errorf(platform.CodeNotFound, "no such application")
	}
	if err != nil {
		return nil, err
	}
	return h.describe(ctx, c, map[string]*manifest.Manifest{})
}

// describe adds the titles of the service version the case was opened on.
func (h *Applications) describe(ctx context.Context, c casework.Case, memo map[string]*manifest.Manifest) (Application, error) {
	m, err := manifestOf(ctx, h.Services, c.ServiceID, c.ServiceVersion, memo)
	if err != nil {
		return Application{}, err
	}
	return Application{
		ID: c.ID, Reference: c.Reference, ServiceID: c.ServiceID, ServiceVersion: c.ServiceVersion,
		ServiceTitle: m.Title, AgencyID: c.AgencyID, State: c.State, StateTitle: m.Workflow.States[c.State].Title,
		WaitingOn: c.WaitingOn, Overdue: c.Overdue, OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt, ClosedAt: c.ClosedAt,
	}, nil
}

// manifestOf returns the manifest of a service version, once per memo.
func manifestOf(ctx context.Context, svc Services, id string, version int, memo map[string]*manifest.Manifest) (*manifest.Manifest, error) {
	key := fmt.Sprintf("%s@%d", id, version)
	if m, ok := memo[key]; ok {
		return m, nil
	}
	p, err := svc.Service(ctx, id, version)
	if err != nil {
		return nil, err
	}
	memo[key] = p.Manifest
	return p.Manifest, nil
}
