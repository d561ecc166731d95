package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// CaseSummary is one case in a staff queue.
type CaseSummary struct {
	ID             string        `json:"id"`
	Reference      string        `json:"reference"`
	AgencyID       string        `json:"agency_id"`
	ServiceID      string        `json:"service_id"`
	ServiceVersion int           `json:"service_version"`
	State          string        `json:"state"`
	StateTitle     manifest.Text `json:"state_title"`
	WaitingOn      string        `json:"waiting_on" jsonschema:"enum=agency,enum=citizen,enum=nobody"`
	Assignee       string        `json:"assignee,omitempty"`
	SLADueAt       *time.Time    `json:"sla_due_at,omitempty"`
	Overdue        bool          `json:"overdue"`
	OpenedAt       time.Time     `json:"opened_at"`
	ClosedAt       *time.Time    `json:"closed_at,omitempty"`
}

// CaseQueue is one page of a staff queue.
type CaseQueue struct {
	Cases []CaseSummary `json:"cases"`
	Total int           `json:"total"`
	Page  int           `json:"page"`
	Pages int           `json:"pages"`
}

// CaseDetail is a case with its answers and its timeline (internal notes
// included: only staff of the case's agency see it).
type CaseDetail struct {
	CaseSummary
	Answers  map[string]map[string]any `json:"answers"`
	Timeline []casework.Entry          `json:"timeline"`
}

// CaseWork is what the staff operations need of the casework block.
type CaseWork interface {
	// ViewCase and QueueFor decide who may see what and audit the read.
	ViewCase(ctx context.Context, actor platform.Actor, id string) (casework.Case, error)
	QueueFor(ctx context.Context, actor platform.Actor, f casework.QueueFilter) (casework.QueuePage, error)
	Answers(ctx context.Context, id string) (map[string]map[string]any, error)
	Timeline(ctx context.Context, caseID string, internal bool) ([]casework.Entry, error)
}

// StaffCases serves the case operations for agency staff: read-only, for
// agency systems that report on or mirror their queue. Changing a case is
// done in the console, where the workflow's roles apply.
type StaffCases struct {
	Cases    CaseWork
	Services Services
}

// Register adds the staff case operations to a.
func (h *StaffCases) Register(a *API) {
	a.Handle(Op{
		Method: http.MethodGet, Path: "/api/v1/cases", ID: "listCases", Tag: "cases", Auth: Staff,
		Summary:     "The queue of the caller's agencies",
		Description: "Open cases (or closed ones with closed=true) of the agencies in which the caller holds a role, by SLA due time.",
		Params: []Param{
			{Name: "agency", In: "query", Description: "Only this agency (one of the caller's)"},
			{Name: "service", In: "query", Description: "Only this service id"},
			{Name: "state", In: "query", Description: "Only this workflow state"},
			{Name: "sla", In: "query", Description: "on_time, due_soon or overdue"},
			{Name: "assignee", In: "query", Description: "An account id, or none"},
			{Name: "closed", In: "query", Description: "true for closed cases", Type: "boolean"},
			{Name: "page", In: "query", Description: "Page number from 1", Type: "integer"},
		},
		Response: CaseQueue{},
	}, h.list)
	a.Handle(Op{
		Method: http.MethodGet, Path: "/api/v1/cases/{id}", ID: "getCase", Tag: "cases", Auth: Staff,
		Summary:     "One case of the caller's agencies, with answers and timeline",
		Description: "A case of another agency answers 404, exactly as one that does not exist.",
		Params:      []Param{{Name: "id", In: "path", Description: "The case id"}},
		Response:    CaseDetail{},
	}, h.get)
}

func (h *StaffCases) list(r *http.Request, p Principal) (any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	f := casework.QueueFilter{Service: q.Get("service"), State: q.Get("state"), Assignee: q.Get("assignee")}
	if ag := q.Get("agency"); ag != "" {
		f.Agencies = []string{ag} // the block refuses an agency the caller holds no role in
	}
	switch sla := q.Get("sla"); sla {
	case "", casework.SLAOnTime, casework.SLADueSoon, casework.SLAOverdue:
		f.SLA = sla
	default:
		return nil, platform.Invalid("sla", "sla must be on_time, due_soon or overdue")
	}
	switch q.Get("closed") {
	case "", "false":
	case "true":
		f.Closed = true
	default:
		return nil, platform.Invalid("closed", "closed must be true or false")
	}
	if pg := q.Get("page"); pg != "" {
		n, err := strconv.Atoi(pg)
		if err != nil || n < 1 || n > 1_000_000 {
			return nil, platform.Invalid("page", "page must be a whole number from 1")
		}
		f.Page = n
	}
	page, err := h.Cases.QueueFor(ctx, platform.ActorFrom(ctx), f)
	if err != nil {
		return nil, err
	}
	out := CaseQueue{Cases: []CaseSummary{}, Total: page.Total, Page: page.Page, Pages: page.Pages}
	memo := map[string]*manifest.Manifest{}
	for _, c := range page.Cases {
		s, err := h.summary(ctx, c, memo)
		if err != nil {
			return nil, err
		}
		out.Cases = append(out.Cases, s)
	}
	return out, nil
}

func (h *StaffCases) get(r *http.Request, p Principal) (any, error) {
	ctx := r.Context()
	c, err := h.Cases.ViewCase(ctx, platform.ActorFrom(ctx), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	s, err := h.summary(ctx, c, map[string]*manifest.Manifest{})
	if err != nil {
		return nil, err
	}
	answers, err := h.Cases.Answers(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	timeline, err := h.Cases.Timeline(ctx, c.ID, true)
	if err != nil {
		return nil, err
	}
	if timeline == nil {
		timeline = []casework.Entry{}
	}
	return CaseDetail{CaseSummary: s, Answers: answers, Timeline: timeline}, nil
}

func (h *StaffCases) summary(ctx context.Context, c casework.Case, memo map[string]*manifest.Manifest) (CaseSummary, error) {
	m, err := manifestOf(ctx, h.Services, c.ServiceID, c.ServiceVersion, memo)
	if err != nil {
		return CaseSummary{}, err
	}
	return CaseSummary{
		ID: c.ID, Reference: c.Reference, AgencyID: c.AgencyID, ServiceID: c.ServiceID, ServiceVersion: c.ServiceVersion,
		State: c.State, StateTitle: m.Workflow.States[c.State].Title, WaitingOn: c.WaitingOn, Assignee: c.Assignee,
		SLADueAt: c.SLADueAt, Overdue: c.Overdue, OpenedAt: c.OpenedAt, ClosedAt: c.ClosedAt,
	}, nil
}
