// Package caseweb is the HTTP side of the casework block: the staff case
// queue and case page under /console/cases, and the citizen's page for
// their application's case at /applications/{id}.
//
// Authorization is decided here, once per handler, against the case
// loaded from the path: staff see only cases of the agencies they hold a
// role in (auditors read only); a citizen sees only their own cases.
// Anyone else gets 404, so case ids do not leak. Every page view and
// every change is audited by the casework block.
package caseweb

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/application"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Staff is what the pages need of the identity block.
type Staff interface {
	AgencyMembers(ctx context.Context, agencyID string) ([]identity.AgencyMember, error)
}

// Catalog is what the pages need of the catalog block.
type Catalog interface {
	List(ctx context.Context, agency string) ([]catalog.Published, error)
}

// Files is what the pages need of the applying block: the files uploaded
// with an application. Neither method checks who asks; the pages have
// authorised the case first.
type Files interface {
	Attachments(ctx context.Context, appID string) (map[string]application.Attachment, error)
	Attachment(ctx context.Context, appID, attachmentID string) (application.Attachment, io.ReadCloser, error)
}

// Handlers serves the case pages.
type Handlers struct {
	web   *web.Server
	cases *casework.Service
	staff Staff
	cat   Catalog
	files Files
}

// Register adds the case pages to s.
func Register(s *web.Server, idw *identityweb.Handlers, cases *casework.Service, staff Staff, cat Catalog, files Files) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &Handlers{web: s, cases: cases, staff: staff, cat: cat, files: files}
	// Any staff member may open the queue; it lists only their agencies'
	// cases. Per-case access is checked against the case's agency.
	anyStaff := func(*http.Request, *identity.Account) bool { return true }
	s.Handle("GET /console/cases", idw.RequireStaff(anyStaff, h.queue))
	s.Handle("GET /console/cases/{id}", idw.RequireStaff(anyStaff, h.staffCase))
	s.Handle("GET /console/cases/{id}/files/{file}", idw.RequireStaff(anyStaff, h.staffFile))
	s.Handle("POST /console/cases/{id}/assign", idw.RequireStaff(anyStaff, h.assign))
	s.Handle("POST /console/cases/{id}/transition", idw.RequireStaff(anyStaff, h.staffTransition))
	s.Handle("POST /console/cases/{id}/request", idw.RequireStaff(anyStaff, h.request))
	s.Handle("POST /console/cases/{id}/note", idw.RequireStaff(anyStaff, h.note))
	s.Handle("POST /console/cases/{id}/message", idw.RequireStaff(anyStaff, h.message))
	s.Handle("POST /console/cases/{id}/payment", idw.RequireStaff(anyStaff, h.payment))
	s.Handle("GET /applications/{id}", h.citizen(h.citizenCase))
	s.Handle("POST /applications/{id}/respond", h.citizen(h.respond))
	s.Handle("POST /applications/{id}/transition", h.citizen(h.citizenTransition))
	return nil
}

// citizen requires a full session; others are sent to sign in (GET) or
// refused (POST), as identityweb does for its own signed-in pages.
func (h *Handlers) citizen(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := identityweb.Current(r)
		if sess != nil && sess.Stage == identity.StageFull {
			fn(w, r)
			return
		}
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.web.Error(w, r, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required"))
	})
}

// lang is the page language as a manifest text key.
func lang(r *http.Request) string { return string(web.Lang(r)) }

// tr picks the text in lang.
func tr(t manifest.Text, lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// when formats an instant for pages: date and local time in the
// jurisdiction's zone, in the page's language (i18n.Formatter).
func when(p *web.Page, t *time.Time) string {
	if t == nil {
		return ""
	}
	return p.DateTime(*t)
}

// staffRoles returns a's roles in agency.
func staffRoles(a *identity.Account, agency string) []string {
	var out []string
	for _, m := range a.Memberships {
		if m.AgencyID == agency {
			out = append(out, string(m.Role))
		}
	}
	return out
}

// canWork: any role but auditor (read only) may change a case.
func canWork(roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return r != string(identity.Auditor) })
}

// staffCaseFor loads the case in the path if a may see it; otherwise it
// answers 404 and returns false.
func (h *Handlers) staffCaseFor(w http.ResponseWriter, r *http.Request, a *identity.Account) (casework.Case, []string, bool) {
	c, err := h.cases.Case(r.Context(), r.PathValue("id"))
	if err != nil {
		h.web.Error(w, r, err)
		return c, nil, false
	}
	roles := staffRoles(a, c.AgencyID)
	if len(roles) == 0 {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return c, nil, false
	}
	return c, roles, true
}

// ---- the queue ----

type option struct {
	Value, Label string
	Selected     bool
}

type queueRow struct {
	ID, Reference, Service, State, SLA, SLAKey, Due, Assignee, Waiting string
}

type queueView struct {
	Rows                                     []queueRow
	Services, States, SLAs, Assignees, Sorts []option
	Closed                                   bool
	Total, Page, Pages                       int
	PrevURL, NextURL                         string
	PageLinks                                []pageLink
	NoAgencies                               bool
}

type pageLink struct {
	N       int
	URL     string
	Current bool
}

func (h *Handlers) queue(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	ctx, lg := r.Context(), lang(r)
	p := h.web.Renderer().NewPage(r, nil)
	var agencies []string
	for _, m := range a.Memberships {
		if !slices.Contains(agencies, m.AgencyID) {
			agencies = append(agencies, m.AgencyID)
		}
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 || page > 100000 {
		page = 1
	}
	f := casework.QueueFilter{Agencies: agencies, Service: q.Get("service"), State: q.Get("state"), SLA: q.Get("sla"),
		Closed: q.Get("status") == "closed", Desc: q.Get("sort") == "due_desc", Page: page, PerPage: 25}
	switch q.Get("assignee") {
	case "me":
		f.Assignee = a.ID
	case "none":
		f.Assignee = "none"
	}
	if !slices.Contains([]string{"", casework.SLAOnTime, casework.SLADueSoon, casework.SLAOverdue}, f.SLA) {
		f.SLA = ""
	}
	// The services of the staff member's agencies, for the filter and for
	// titles; states are offered for the chosen service.
	titles := map[string]string{}
	manifests := map[string]*manifest.Manifest{}
	v := queueView{NoAgencies: len(agencies) == 0, Closed: f.Closed}
	v.Services = append(v.Services, option{Value: "", Label: p.T("case.filter.any")})
	for _, ag := range agencies {
		list, err := h.cat.List(ctx, ag)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, s := range list {
			titles[s.ID] = tr(s.Manifest.Title, lg)
			manifests[s.ID] = s.Manifest
			v.Services = append(v.Services, option{Value: s.ID, Label: titles[s.ID], Selected: s.ID == f.Service})
		}
	}
	if _, ok := manifests[f.Service]; !ok {
		f.Service = ""
	}
	v.States = append(v.States, option{Value: "", Label: p.T("case.filter.any")})
	if m := manifests[f.Service]; m != nil {
		var ids []string
		for id := range m.Workflow.States {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			v.States = append(v.States, option{Value: id, Label: tr(m.Workflow.States[id].Title, lg), Selected: id == f.State})
		}
	} else {
		f.State = "" // a state means something only within a service
	}
	for _, s := range []string{"", casework.SLAOnTime, casework.SLADueSoon, casework.SLAOverdue} {
		label := p.T("case.filter.any")
		if s != "" {
			label = p.T("case.sla." + s)
		}
		v.SLAs = append(v.SLAs, option{Value: s, Label: label, Selected: s == f.SLA})
	}
	for _, s := range []string{"", "me", "none"} {
		key := map[string]string{"": "case.filter.any", "me": "case.filter.me", "none": "case.filter.none"}[s]
		v.Assignees = append(v.Assignees, option{Value: s, Label: p.T(key), Selected: s == q.Get("assignee")})
	}
	for _, s := range []string{"due", "due_desc"} {
		v.Sorts = append(v.Sorts, option{Value: s, Label: p.T("case.sort." + s), Selected: s == q.Get("sort") || s == "due" && q.Get("sort") == ""})
	}
	res, err := h.cases.Queue(ctx, f)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	names := h.memberNames(ctx, agencies)
	now := h.cases.Now()
	for _, c := range res.Cases {
		row := queueRow{ID: c.ID, Reference: c.Reference, Service: titles[c.ServiceID], State: c.State, Due: when(p, c.SLADueAt),
			Assignee: names[c.Assignee], Waiting: p.T("case.waiting." + c.WaitingOn)}
		if row.Service == "" {
			row.Service = c.ServiceID
		}
		if m := manifests[c.ServiceID]; m != nil {
			if st, ok := m.Workflow.States[c.State]; ok {
				row.State = tr(st.Title, lg)
			}
		}
		row.SLAKey = casework.SLAStatus(c, now)
		row.SLA = p.T("case.sla." + row.SLAKey)
		if c.Assignee != "" && row.Assignee == "" {
			row.Assignee = c.Assignee
		}
		v.Rows = append(v.Rows, row)
	}
	v.Total, v.Page, v.Pages = res.Total, res.Page, res.Pages
	link := func(n int) string {
		qq := url.Values{}
		for k, vs := range q {
			if k != "page" && k != "lang" && len(vs) > 0 && vs[0] != "" {
				qq.Set(k, vs[0])
			}
		}
		qq.Set("page", strconv.Itoa(n))
		return "/console/cases?" + qq.Encode()
	}
	if v.Page > 1 {
		v.PrevURL = link(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.NextURL = link(v.Page + 1)
	}
	for n := max(1, v.Page-3); n <= min(v.Pages, v.Page+3); n++ {
		v.PageLinks = append(v.PageLinks, pageLink{N: n, URL: link(n), Current: n == v.Page})
	}
	if err := h.cases.QueueViewed(ctx, agencies, f, len(res.Cases)); err != nil {
		h.web.Error(w, r, err)
		return
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "case_queue", p)
}

// memberNames maps account ids of the agencies' staff to their names.
func (h *Handlers) memberNames(ctx context.Context, agencies []string) map[string]string {
	out := map[string]string{}
	for _, ag := range agencies {
		ms, err := h.staff.AgencyMembers(ctx, ag)
		if err != nil {
			continue // names are a courtesy: ids still show
		}
		for _, m := range ms {
			out[m.AccountID] = m.LegalName
		}
	}
	return out
}

// ---- the staff case page ----

type answerPage struct {
	Title  string
	Fields []answerField
}

type answerField struct {
	Label, Value string
	Attachment   bool
	URL          string // the download of an attachment
	RawID        string // the attachment's id, as the answer holds it
}

type transitionView struct {
	ID, Label string
	Blocked   []string
}

type entryView struct {
	When, Who, Kind, Text, Body string
	Internal                    bool
}

type paymentView struct {
	Amount, Requested, Due, Paid, Ref string
}

type documentView struct {
	Title, Issued, ValidUntil string
}

type caseView struct {
	Case        casework.Case
	Service     string
	State       string
	SLA, SLAKey string
	Due         string
	Opened      string
	Assignee    string
	Waiting     string
	Answers     []answerPage
	Timeline    []entryView
	Payments    []paymentView
	Documents   []documentView
	Outstanding string // the amount due, "" when nothing is due
	Transitions []transitionView
	Members     []option
	CanWork     bool
	CanPay      bool
	Closed      bool
	Done        string // the flash message of the last change
	Values      map[string]string
	Next        string // citizen page: what happens next
}

// V returns a typed value, for forms kept after an error.
func (v caseView) V(name string) string { return v.Values[name] }

func (h *Handlers) staffCase(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	c, roles, ok := h.staffCaseFor(w, r, a)
	if !ok {
		return
	}
	h.renderStaff(w, r, a, c, roles, http.StatusOK, nil, nil)
}

// renderStaff renders the staff case page (after an error, with errs and
// what was typed) and audits the view.
func (h *Handlers) renderStaff(w http.ResponseWriter, r *http.Request, a *identity.Account, c casework.Case, roles []string, status int, values map[string]string, errs []web.FieldError) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	v, err := h.buildView(ctx, p, c, true)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v.Values = values
	v.CanWork = canWork(roles) && c.ClosedAt == nil
	v.CanPay = v.CanWork && v.Outstanding != "" && (slices.Contains(roles, string(identity.Finance)) || slices.Contains(roles, string(identity.AgencyAdmin)))
	if done := r.URL.Query().Get("done"); slices.Contains(doneKeys, done) {
		v.Done = p.T("case.done." + done)
	}
	if v.CanWork {
		wf, err := h.cases.Workflow(ctx, c)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		in, err := h.cases.Inputs(ctx, c)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, o := range wf.Options(c.State, casework.Staff(roles...), in) {
			tv := transitionView{ID: o.Transition.ID, Label: tr(o.Transition.Label, lang(r))}
			for _, b := range o.Blocked {
				tv.Blocked = append(tv.Blocked, p.T(b.Key, b.Args...))
			}
			v.Transitions = append(v.Transitions, tv)
		}
		ms, err := h.staff.AgencyMembers(ctx, c.AgencyID)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, m := range ms {
			if canWork(rolesOf(m)) {
				v.Members = append(v.Members, option{Value: m.AccountID, Label: m.LegalName, Selected: m.AccountID == c.Assignee})
			}
		}
	}
	if err := h.cases.Viewed(ctx, c); err != nil {
		h.web.Error(w, r, err)
		return
	}
	p.Data = v
	p.Errors = errs
	h.web.Page(w, r, status, "case_staff", p)
}

func rolesOf(m identity.AgencyMember) []string {
	out := make([]string, len(m.Roles))
	for i, r := range m.Roles {
		out[i] = string(r)
	}
	return out
}

// doneKeys are the flash messages a change may redirect with.
var doneKeys = []string{"assign", "transition", "request", "note", "message", "payment", "respond"}

// buildView assembles what both case pages show; staff also see internal
// timeline entries.
func (h *Handlers) buildView(ctx context.Context, p *web.Page, c casework.Case, staff bool) (caseView, error) {
	lg := string(p.Lang)
	v := caseView{Case: c, Service: c.ServiceID, State: c.State, Due: when(p, c.SLADueAt), Opened: when(p, &c.OpenedAt),
		Waiting: p.T("case.waiting." + c.WaitingOn), Closed: c.ClosedAt != nil}
	v.SLAKey = casework.SLAStatus(c, h.cases.Now())
	v.SLA = p.T("case.sla." + v.SLAKey)
	wf, err := h.cases.Workflow(ctx, c)
	if err != nil {
		return v, err
	}
	m := wf.Manifest
	v.Service = tr(m.Title, lg)
	if st, ok := m.Workflow.States[c.State]; ok {
		v.State = tr(st.Title, lg)
	}
	var names map[string]string
	if staff {
		names = h.memberNames(ctx, []string{c.AgencyID})
		v.Assignee = names[c.Assignee]
		if v.Assignee == "" && c.Assignee != "" {
			v.Assignee = c.Assignee
		}
	}
	answers, err := h.cases.Answers(ctx, c.ID)
	if err != nil {
		return v, err
	}
	v.Answers = answerPages(p, wf.Runtime(), answers)
	if err := h.linkFiles(ctx, p, c, staff, v.Answers); err != nil {
		return v, err
	}
	entries, err := h.cases.Timeline(ctx, c.ID, staff)
	if err != nil {
		return v, err
	}
	for _, e := range entries {
		v.Timeline = append(v.Timeline, entryView{When: when(p, &e.At), Who: who(p, e.Actor, names, staff), Kind: e.Kind,
			Text: entryText(p, m, e), Body: e.Body, Internal: e.Internal})
	}
	pays, err := h.cases.Payments(ctx, c.ID)
	if err != nil {
		return v, err
	}
	var due int64
	for _, x := range pays {
		pv := paymentView{Amount: p.Money(x.Amount, x.Currency), Requested: when(p, &x.RequestedAt), Due: when(p, x.DueAt), Paid: when(p, x.PaidAt), Ref: x.PaidRef}
		v.Payments = append(v.Payments, pv)
		if x.PaidAt == nil {
			due += x.Amount
			v.Outstanding = p.Money(due, x.Currency)
		}
	}
	docs, err := h.cases.Documents(ctx, c.ID)
	if err != nil {
		return v, err
	}
	for _, d := range docs {
		v.Documents = append(v.Documents, documentView{Title: tr(m.Documents[d.Document].Title, lg), Issued: when(p, &d.IssuedAt), ValidUntil: when(p, d.ValidUntil)})
	}
	return v, nil
}

// who names the actor of a timeline entry: staff by name for staff (the
// citizen sees "the agency"), the applicant, or the platform.
func who(p *web.Page, actor string, names map[string]string, staff bool) string {
	kind, id, _ := strings.Cut(actor, ":")
	switch platform.ActorKind(kind) {
	case platform.ActorCitizen:
		return p.T("case.who.applicant")
	case platform.ActorStaff:
		if staff {
			if n := names[id]; n != "" {
				return n
			}
		}
		return p.T("case.who.agency")
	}
	return p.T("case.who.system")
}

// entryText describes a timeline entry in the page's language.
func entryText(p *web.Page, m *manifest.Manifest, e casework.Entry) string {
	lg := string(p.Lang)
	state := func(id string) string {
		if st, ok := m.Workflow.States[id]; ok {
			return tr(st.Title, lg)
		}
		return id
	}
	switch e.Kind {
	case "opened":
		return p.T("case.entry.opened")
	case "transition":
		return p.T("case.entry.transition", state(e.Str("to")))
	case "assign":
		if e.Str("to") == "" {
			return p.T("case.entry.unassigned")
		}
		return p.T("case.entry.assigned")
	case "request":
		return p.T("case.entry.request")
	case "response":
		return p.T("case.entry.response")
	case "overdue":
		return p.T("case.entry.overdue", state(e.Str("state")))
	}
	switch e.Action() {
	case "notify", "notify_staff":
		return e.Text("message", lg)
	case "request_payment":
		return p.T("case.entry.payment_requested", p.Money(e.Amount("amount"), e.Str("currency")))
	case "payment_recorded":
		return p.T("case.entry.payment_recorded", p.Money(e.Amount("amount"), e.Str("currency")))
	case "issue_document":
		return p.T("case.entry.document", e.Text("title", lg))
	case "set_reminder":
		return p.T("case.entry.reminder", e.Str("reminder"), e.Str("due"))
	case "call_plugin":
		return p.T("case.entry.plugin", e.Str("plugin"), e.Str("operation"))
	}
	if e.Kind == "note" {
		return p.T("case.entry.note")
	}
	return p.T("case.entry.message")
}

// answerPages lays the answers out by form page with the manifest's
// labels, in page order; answers to pages the manifest no longer has
// are left out (they cannot be labelled).
func answerPages(p *web.Page, rt *manifest.Runtime, answers map[string]map[string]any) []answerPage {
	lg := string(p.Lang)
	m := rt.Manifest
	var out []answerPage
	for _, pg := range m.Pages {
		got, ok := answers[pg.ID]
		if !ok {
			continue
		}
		ap := answerPage{Title: tr(pg.Title, lg)}
		// Fields in the order the form asked them, then anything else
		// answered, by name.
		var keys []string
		for _, k := range rt.Fields(pg.ID) {
			if _, ok := got[k]; ok {
				keys = append(keys, k)
			}
		}
		var rest []string
		for k := range got {
			if !slices.Contains(keys, k) {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		for _, k := range append(keys, rest...) {
			f, hinted := pg.Fields[k]
			label := k
			if hinted {
				label = tr(f.Label, lg)
			}
			af := answerField{Label: label, Value: formatValue(p, got[k]), Attachment: hinted && f.Widget == "file"}
			if hinted && len(f.Options) > 0 {
				af.Value = optionValues(f.Options, lg, got[k])
			}
			if af.Attachment {
				af.Value = p.T("case.answers.attachment", attachmentName(got[k]))
				af.RawID, _ = got[k].(string)
			}
			ap.Fields = append(ap.Fields, af)
		}
		out = append(out, ap)
	}
	return out
}

// attachmentName is the file name an attachment answer carries: the
// applying block stores either a name or an object with one.
func attachmentName(v any) string {
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"name", "filename", "id"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
	}
	return formatValueRaw(v)
}

func formatValue(p *web.Page, v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return p.T("console.yes")
		}
		return p.T("console.no")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, formatValue(p, e))
		}
		return strings.Join(parts, ", ")
	}
	return formatValueRaw(v)
}

func formatValueRaw(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any: // an address: its parts in a stable order
		var keys []string
		for k := range x {
			keys = append(keys, k)
		}
		order := map[string]int{"line1": 0, "street": 0, "line2": 1, "city": 2, "state": 3, "zip": 4}
		sort.SliceStable(keys, func(i, j int) bool {
			oi, iok := order[keys[i]]
			oj, jok := order[keys[j]]
			if iok != jok {
				return iok
			}
			if oi != oj {
				return oi < oj
			}
			return keys[i] < keys[j]
		})
		var parts []string
		for _, k := range keys {
			if s := formatValueRaw(x[k]); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// ---- staff changes ----

// staffChange runs a change on a case the signed-in staff member may
// work, then redirects to the case page with a flash message; an error a
// person caused re-renders the page with it.
func (h *Handlers) staffChange(w http.ResponseWriter, r *http.Request, done, field string, fn func(c casework.Case, roles []string, a *identity.Account) error) {
	_, a := identityweb.Current(r)
	c, roles, ok := h.staffCaseFor(w, r, a)
	if !ok {
		return
	}
	if !canWork(roles) {
		h.web.ErrorPage(w, r, http.StatusForbidden)
		return
	}
	if err := fn(c, roles, a); err != nil {
		h.changeFailed(w, r, err, field, func(status int, values map[string]string, errs []web.FieldError) {
			if fresh, ferr := h.cases.Case(r.Context(), c.ID); ferr == nil {
				c = fresh
			}
			h.renderStaff(w, r, a, c, roles, status, values, errs)
		})
		return
	}
	http.Redirect(w, r, "/console/cases/"+url.PathEscape(c.ID)+"?done="+done+"#main-content", http.StatusSeeOther)
}

// changeFailed shows an error a person caused on the page (translated
// where the block gave a reason) and sends anything else to the error page.
func (h *Handlers) changeFailed(w http.ResponseWriter, r *http.Request, err error, field string, render func(int, map[string]string, []web.FieldError)) {
	code := platform.ErrorCode(err)
	if code != platform.CodeInvalid && code != platform.CodeConflict {
		h.web.Error(w, r, err)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	msg := platform.ErrorMessage(err)
	var ref *casework.Refusal
	if errors.As(err, &ref) {
		msg = p.T(ref.Reason.Key, ref.Reason.Args...)
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Field == "amount" {
		field = "amount"
	}
	values := map[string]string{}
	for _, k := range []string{"body", "amount", "ref"} {
		values[k] = r.PostFormValue(k)
	}
	render(web.Status(err), values, []web.FieldError{{Field: field, Message: p.T("case.error", msg)}})
}

func (h *Handlers) assign(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "assign", "assignee", func(c casework.Case, _ []string, a *identity.Account) error {
		to := r.PostFormValue("assignee")
		if to == "me" {
			to = a.ID
		}
		if to != "" {
			ms, err := h.staff.AgencyMembers(r.Context(), c.AgencyID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ms, func(m identity.AgencyMember) bool { return m.AccountID == to && canWork(rolesOf(m)) }) {
				return platform.Invalid("assignee", "choose a member of the agency's staff")
			}
		}
		_, err := h.cases.Assign(r.Context(), c.ID, to)
		return err
	})
}

func (h *Handlers) staffTransition(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "transition", "transitions", func(c casework.Case, roles []string, _ *identity.Account) error {
		_, err := h.cases.Take(r.Context(), c.ID, r.PostFormValue("transition"), casework.Staff(roles...))
		return err
	})
}

func (h *Handlers) request(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "request", "request-body", func(c casework.Case, _ []string, _ *identity.Account) error {
		_, err := h.cases.RequestInfo(r.Context(), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) note(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "note", "note-body", func(c casework.Case, _ []string, _ *identity.Account) error {
		_, err := h.cases.Note(r.Context(), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) message(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "message", "message-body", func(c casework.Case, _ []string, _ *identity.Account) error {
		_, err := h.cases.Message(r.Context(), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) payment(w http.ResponseWriter, r *http.Request) {
	h.staffChange(w, r, "payment", "amount", func(c casework.Case, roles []string, _ *identity.Account) error {
		if !slices.Contains(roles, string(identity.Finance)) && !slices.Contains(roles, string(identity.AgencyAdmin)) {
			return platform.Errorf(platform.CodeForbidden, "only finance staff record payments")
		}
		amount, err := ParseMoney(r.PostFormValue("amount"))
		if err != nil {
			return err
		}
		_, err = h.cases.RecordPayment(r.Context(), c.ID, amount, r.PostFormValue("ref"))
		return err
	})
}

// ParseMoney reads an amount typed by staff ("45", "45.5", "45.00",
// "$1,234.56") as minor units.
func ParseMoney(s string) (int64, error) {
	bad := platform.Invalid("amount", "enter the amount received, like 45.00")
	s = strings.NewReplacer("$", "", ",", "", " ", "").Replace(strings.TrimSpace(s))
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || len(frac) > 2 {
		return 0, bad
	}
	for len(frac) < 2 {
		frac += "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, bad
		}
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f, nil
}

// ---- the citizen's case page ----

func (h *Handlers) citizenCaseFor(w http.ResponseWriter, r *http.Request) (casework.Case, bool) {
	_, a := identityweb.Current(r)
	c, err := h.cases.Case(r.Context(), r.PathValue("id"))
	if err != nil || c.AccountID != a.ID {
		if err != nil && platform.ErrorCode(err) != platform.CodeNotFound {
			h.web.Error(w, r, err)
			return c, false
		}
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return c, false
	}
	return c, true
}

func (h *Handlers) citizenCase(w http.ResponseWriter, r *http.Request) {
	c, ok := h.citizenCaseFor(w, r)
	if !ok {
		return
	}
	h.renderCitizen(w, r, c, http.StatusOK, nil, nil)
}

func (h *Handlers) renderCitizen(w http.ResponseWriter, r *http.Request, c casework.Case, status int, values map[string]string, errs []web.FieldError) {
	ctx := r.Context()
	p := h.web.Renderer().NewPage(r, nil)
	v, err := h.buildView(ctx, p, c, false)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v.Values = values
	if done := r.URL.Query().Get("done"); slices.Contains(doneKeys, done) {
		v.Done = p.T("case.done." + done)
	}
	switch {
	case c.ClosedAt != nil:
		v.Next = p.T("case.next.closed", v.State)
	case c.WaitingOn == casework.WaitingOnCitizen:
		v.Next = p.T("case.next.answer")
	case v.Outstanding != "":
		v.Next = p.T("case.next.pay", v.Outstanding)
	case c.SLADueAt != nil:
		v.Next = p.T("case.next.agency.by", when(p, c.SLADueAt))
	default:
		v.Next = p.T("case.next.agency")
	}
	if c.ClosedAt == nil {
		wf, err := h.cases.Workflow(ctx, c)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		in, err := h.cases.Inputs(ctx, c)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, o := range wf.Options(c.State, casework.Actor{Kind: casework.ActorCitizen}, in) {
			if len(o.Blocked) == 0 { // a citizen is offered only what they can do now
				v.Transitions = append(v.Transitions, transitionView{ID: o.Transition.ID, Label: tr(o.Transition.Label, lang(r))})
			}
		}
	}
	if err := h.cases.Viewed(ctx, c); err != nil {
		h.web.Error(w, r, err)
		return
	}
	p.Data = v
	p.Errors = errs
	h.web.Page(w, r, status, "case_citizen", p)
}

func (h *Handlers) citizenChange(w http.ResponseWriter, r *http.Request, done, field string, fn func(c casework.Case) error) {
	c, ok := h.citizenCaseFor(w, r)
	if !ok {
		return
	}
	if err := fn(c); err != nil {
		h.changeFailed(w, r, err, field, func(status int, values map[string]string, errs []web.FieldError) {
			if fresh, ferr := h.cases.Case(r.Context(), c.ID); ferr == nil {
				c = fresh
			}
			h.renderCitizen(w, r, c, status, values, errs)
		})
		return
	}
	http.Redirect(w, r, "/applications/"+url.PathEscape(c.ID)+"?done="+done+"#main-content", http.StatusSeeOther)
}

func (h *Handlers) respond(w http.ResponseWriter, r *http.Request) {
	h.citizenChange(w, r, "respond", "body", func(c casework.Case) error {
		_, err := h.cases.Respond(r.Context(), c.ID, r.PostFormValue("body"))
		return err
	})
}

func (h *Handlers) citizenTransition(w http.ResponseWriter, r *http.Request) {
	h.citizenChange(w, r, "transition", "transitions", func(c casework.Case) error {
		_, err := h.cases.Take(r.Context(), c.ID, r.PostFormValue("transition"), casework.Actor{Kind: casework.ActorCitizen})
		return err
	})
}

// linkFiles names each attachment answer by its file and links it: staff
// to the console's download, the applicant to their own (applyweb's).
func (h *Handlers) linkFiles(ctx context.Context, p *web.Page, c casework.Case, staff bool, pages []answerPage) error {
	if h.files == nil {
		return nil
	}
	var files map[string]application.Attachment
	for i := range pages {
		for j := range pages[i].Fields {
			f := &pages[i].Fields[j]
			if !f.Attachment {
				continue
			}
			if files == nil {
				var err error
				if files, err = h.files.Attachments(ctx, c.ID); err != nil {
					return err
				}
			}
			id := f.RawID
			at, ok := files[id]
			if !ok {
				continue
			}
			f.Value = p.T("case.answers.file", at.Filename, formatBytes(at.Size))
			if staff {
				f.URL = "/console/cases/" + url.PathEscape(c.ID) + "/files/" + url.PathEscape(at.ID)
			} else {
				f.URL = "/apply/" + url.PathEscape(c.ID) + "/files/" + url.PathEscape(at.ID)
			}
		}
	}
	return nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt((n+1023)>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// staffFile serves an attachment of a case to staff of its agency, as a
// download (never rendered inline), and audits the read.
func (h *Handlers) staffFile(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	c, _, ok := h.staffCaseFor(w, r, a)
	if !ok {
		return
	}
	if h.files == nil {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	at, rc, err := h.files.Attachment(r.Context(), c.ID, r.PathValue("file"))
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	defer rc.Close()
	if err := h.cases.FileViewed(r.Context(), c, at.ID, at.Filename); err != nil {
		h.web.Error(w, r, err)
		return
	}
	web.Download(w, r, h.web.Logger(), at.Filename, at.ContentType, at.Size, rc)
}

// optionValues shows a choice (or a list of them) by the manifest's
// labels in lang; a value without a label is shown as it is.
func optionValues(labels map[string]manifest.Text, lang string, v any) string {
	one := func(x any) string {
		if l, ok := labels[fmt.Sprint(x)]; ok {
			return tr(l, lang)
		}
		return fmt.Sprint(x)
	}
	if list, ok := v.([]any); ok {
		parts := make([]string, 0, len(list))
		for _, x := range list {
			parts = append(parts, one(x))
		}
		return strings.Join(parts, ", ")
	}
	return one(v)
}
