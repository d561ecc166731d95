package catalogweb

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	celast "github.com/google/cel-go/common/ast"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// item is one service in a list of services.
type item struct {
	ID, Title, Summary, Agency, Category, Maturity string
	AgencyID                                       string
	Reasons                                        []string // services for you: why it applies
	Needs                                          []string // services for you: what to add to the profile
}

// facetLink is one category or agency to narrow a search to.
type facetLink struct {
	Name    string
	Count   int
	URL     string
	Current bool
}

type pageLink struct {
	Number  int
	URL     string
	Current bool
}

type searchView struct {
	Q, Category, Agency string
	Searched            bool // the query had words
	Total               int
	Items               []item
	Categories          []facetLink
	Agencies            []facetLink
	CategoryName        string // of the current filter
	AgencyName          string
	ClearURL            string
	Prev, Next          string
	Pages               []pageLink
	PageNumber          int
	PageCount           int
	SignedIn            bool
	Reports             []ReportLink // report-a-problem forms the words match
}

func (v searchView) V(name string) string {
	if name == "q" {
		return v.Q
	}
	return ""
}

func (h *Handlers) itemOf(p catalog.Published, n names, lang i18n.Lang) item {
	m := p.Manifest
	return item{
		ID: p.ID, Title: pick(m.Title, lang), Summary: pick(m.Summary, lang), Agency: pick(n.agency(p.AgencyID), lang), AgencyID: p.AgencyID,
		Category: pick(catalog.CategoryName(m.Category), lang), Maturity: m.Maturity,
	}
}

// search is /services: the search box, the category and agency facets,
// and one page of results (every service, in title order, when there is
// no query).
func (h *Handlers) search(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, perr := searchParams(r)
	page := h.web.Renderer().NewPage(r, nil)
	view := searchView{Q: req.Q, Category: req.Category, Agency: req.Agency, SignedIn: page.Viewer.SignedIn && !page.Viewer.Staff}
	page.Data = &view
	status := http.StatusOK
	var res catalog.SearchResult
	err := perr
	if err == nil {
		res, err = h.catalog.Search(ctx, req)
	}
	if err != nil {
		if platform.ErrorCode(err) != platform.CodeInvalid {
			h.web.Error(w, r, err)
			return
		}
		// Bad input: show the form again with what was typed, and the
		// whole catalog below it, so the page is still useful.
		status = http.StatusBadRequest
		msg := page.T("catalog.search.invalid")
		var pe *platform.Error
		if errors.As(err, &pe) && pe.Message == "catalog.search.toolong" {
			msg = page.T(pe.Message, catalog.MaxQueryBytes)
		}
		// The error points at the search box, the one field on the page.
		page.Errors = []web.FieldError{{Field: "q", Message: msg}}
		req = catalog.SearchRequest{Lang: req.Lang, Page: 1}
		view.Category, view.Agency = "", ""
		if res, err = h.catalog.Search(ctx, req); err != nil {
			h.web.Error(w, r, err)
			return
		}
	}
	n, err := h.names(ctx)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	lang := page.Lang
	view.Searched = len(res.Query.Terms) > 0
	if view.Searched && h.reports != nil && status == http.StatusOK {
		if view.Reports, err = h.reports.MatchReports(ctx, res.Query.Terms, lang); err != nil {
			h.web.Error(w, r, err)
			return
		}
	}
	view.Total = res.Total
	view.PageNumber, view.PageCount = res.Page, res.Pages
	for _, p := range res.Services {
		view.Items = append(view.Items, h.itemOf(p, n, lang))
	}
	for _, f := range res.Categories {
		sub := req
		sub.Category = f.ID
		view.Categories = append(view.Categories, facetLink{Name: pick(catalog.CategoryName(f.ID), lang), Count: f.Count, URL: searchURL("/services", sub, 1), Current: f.ID == req.Category})
	}
	for _, f := range res.Agencies {
		sub := req
		sub.Agency = f.ID
		view.Agencies = append(view.Agencies, facetLink{Name: pick(n.agency(f.ID), lang), Count: f.Count, URL: searchURL("/services", sub, 1), Current: f.ID == req.Agency})
	}
	if req.Category != "" {
		view.CategoryName = pick(catalog.CategoryName(req.Category), lang)
	}
	if req.Agency != "" {
		view.AgencyName = pick(n.agency(req.Agency), lang)
	}
	view.ClearURL = searchURL("/services", catalog.SearchRequest{Q: req.Q}, 1)
	if res.Page > 1 && res.Pages > 0 {
		view.Prev = searchURL("/services", req, min(res.Page-1, res.Pages))
	}
	if res.Page < res.Pages {
		view.Next = searchURL("/services", req, res.Page+1)
	}
	if res.Pages > 1 {
		for i := 1; i <= res.Pages; i++ {
			// The first, the last and the two either side of the current.
			if i == 1 || i == res.Pages || i >= res.Page-2 && i <= res.Page+2 {
				view.Pages = append(view.Pages, pageLink{Number: i, URL: searchURL("/services", req, i), Current: i == res.Page})
			}
		}
	}
	h.web.Page(w, r, status, "services", page)
}

type startView struct {
	item
	Where        []string
	Requirements []string
	Facts        facts
	Documents    []string
	Fee          string
	FeeKind      string
	Minutes      string
	Length       string
	ApplyURL     string
	// StartLabel is the button's words for the service's kind ("Start
	// now", "Report a problem", "Renew now", "Pay now", "Book").
	StartLabel string
	// Ineligible: the signed-in person does not meet the service's
	// eligibility; Unmet says why, Needs what to add to the profile, and
	// Alternatives are services of the same purpose that do apply.
	Ineligible   bool
	Unmet        []string
	Needs        []string
	Alternatives []item
}

// start is a service's start page: what it is, who can use it, what you
// need, how long it takes, the fee and who provides it, and the button
// that starts an application (a form posting to /services/{id}/apply).
func (h *Handlers) start(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.latest(r)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	n, err := h.names(ctx)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	reqs, err := h.catalog.Requirements(p)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	page := h.web.Renderer().NewPage(r, nil)
	lang := page.Lang
	m := p.Manifest
	f := deriveFacts(m)
	v := startView{item: h.itemOf(p, n, lang), Facts: f, ApplyURL: "/services/" + p.ID + "/apply", StartLabel: page.T(m.Kind.Key("start"))}
	if err := h.eligibility(r, page, n, p, &v); err != nil {
		h.web.Error(w, r, err)
		return
	}
	for _, j := range m.Jurisdictions {
		v.Where = append(v.Where, pick(n.jurisdiction(j), lang))
	}
	for _, rq := range reqs {
		v.Requirements = append(v.Requirements, requirement(page, n, rq))
	}
	for _, d := range f.Documents {
		s := pick(d.Label, lang)
		switch {
		case d.Conditional:
			s = page.T("catalog.start.doc.conditional", s)
		case d.Optional && !manifest.SaysOptional(s):
			s = page.T("catalog.start.doc.optional", s)
		}
		v.Documents = append(v.Documents, s)
	}
	v.FeeKind = f.Fee.Kind
	switch f.Fee.Kind {
	case "fixed":
		v.Fee = page.T("catalog.start.fee.fixed", page.Money(*f.Fee.Amount, f.Fee.Currency))
	case "variable":
		v.Fee = page.T("catalog.start.fee.variable")
	default:
		v.Fee = page.T("catalog.start.fee.none")
	}
	v.Minutes = page.T("catalog.start.minutes", f.Minutes)
	v.Length = page.T("catalog.start.length", page.T("catalog.start.pages", f.Pages), page.T("catalog.start.questions", f.Questions))
	if f.Pages == 0 {
		v.Length = page.T("catalog.start.length.none")
	}
	page.Data = v
	h.web.Page(w, r, http.StatusOK, "service", page)
}

// eligibility fills in, for a signed-in citizen, whether they may use the
// service, why not in plain words, and the services of the same purpose
// that do apply to them.
func (h *Handlers) eligibility(r *http.Request, page *web.Page, n names, p catalog.Published, v *startView) error {
	sess, a := identityweb.Current(r)
	if sess == nil || sess.Stage != identity.StageFull || a == nil || a.Kind == identity.Staff {
		return nil
	}
	ctx := r.Context()
	prof, err := h.profile(ctx, a)
	if err != nil {
		return err
	}
	now := h.clock.Now()
	unmet, err := h.catalog.Unmet(p, prof, now)
	if err != nil || len(unmet) == 0 {
		return err
	}
	v.Ineligible = true
	for _, u := range unmet {
		v.Unmet = append(v.Unmet, unmetText(page, n, u))
		if u.Undecided {
			for _, need := range needsOf(u, prof) {
				if s := page.T("catalog.need." + need); !slices.Contains(v.Needs, s) {
					v.Needs = append(v.Needs, s)
				}
			}
		}
	}
	alts, err := h.catalog.Alternatives(ctx, p, prof, string(page.Lang), now)
	if err != nil {
		return err
	}
	for _, q := range alts {
		v.Alternatives = append(v.Alternatives, h.itemOf(q, n, page.Lang))
	}
	return nil
}

// unmetText says in plain words why a person does not meet a requirement:
// the manifest's reason, or a sentence for a rule given as a plain
// expression (a generic one when its shape has no plain form).
func unmetText(page *web.Page, n names, u manifest.Unmet) string {
	if u.Reason != nil {
		return pick(*u.Reason, page.Lang)
	}
	rs := catalog.Explain(u.Requirement)
	if rs.Kind == catalog.ReasonRules {
		return page.T("catalog.unmet.rules")
	}
	return requirement(page, n, rs)
}

// needsOf names the profile facts an undecided requirement waits for.
func needsOf(u manifest.Unmet, prof catalog.Profile) []string {
	var out []string
	uses := func(path string) bool {
		found := false
		celast.PreOrderVisit(u.Expr, celast.NewExprVisitor(func(x celast.Expr) {
			if p := manifest.PersonPath(x); p == path || strings.HasPrefix(p, path+".") {
				found = true
			}
		}))
		return found
	}
	if !prof.AgeKnown && uses("age") {
		out = append(out, catalog.NeedDateOfBirth)
	}
	if !prof.ResidenceKnown && uses("residence") {
		out = append(out, catalog.NeedAddress)
	}
	return out
}

// requirement says one eligibility rule as a start page states it.
func requirement(page *web.Page, n names, r catalog.Reason) string {
	switch r.Kind {
	case catalog.ReasonLivesIn:
		return page.T("catalog.req.lives_in", pick(n.jurisdiction(r.Arg), page.Lang))
	case catalog.ReasonAge:
		return page.T("catalog.req.age", r.Arg)
	case catalog.ReasonVerified:
		return page.T("catalog.req.verified")
	case catalog.ReasonStated:
		if r.Text != nil {
			return pick(*r.Text, page.Lang)
		}
	}
	return page.T("catalog.req.rules")
}

// reason says why a service applies to the person.
func reason(page *web.Page, n names, r catalog.Reason) string {
	switch r.Kind {
	case catalog.ReasonLivesIn:
		return page.T("catalog.reason.lives_in", pick(n.jurisdiction(r.Arg), page.Lang))
	case catalog.ReasonAge:
		return page.T("catalog.reason.age", r.Arg)
	case catalog.ReasonVerified:
		return page.T("catalog.reason.verified")
	case catalog.ReasonNoRules:
		return page.T("catalog.reason.no_rules")
	}
	return page.T("catalog.reason.rules")
}

type forYouView struct {
	Applies      []item
	Maybe        []item
	NeedsAddress bool // the profile has no usable home address
	NeedsDOB     bool
	Outside      bool // the address is outside every jurisdiction we serve
}

// forYou lists the services that apply to the signed-in person, each with
// the reasons, and those that may apply once the profile says more.
func (h *Handlers) forYou(w http.ResponseWriter, r *http.Request, a *identity.Account) {
	ctx := r.Context()
	prof, err := h.profile(ctx, a)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	page := h.web.Renderer().NewPage(r, nil)
	ms, err := h.catalog.ForYou(ctx, prof, string(page.Lang), h.clock.Now())
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	n, err := h.names(ctx)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v := forYouView{NeedsAddress: !prof.ResidenceKnown, NeedsDOB: !prof.AgeKnown,
		Outside: prof.ResidenceKnown && len(prof.Person.Residence.Jurisdictions) == 0}
	for _, m := range ms {
		it := h.itemOf(m.Service, n, page.Lang)
		for _, rs := range m.Reasons {
			it.Reasons = append(it.Reasons, reason(page, n, rs))
		}
		for _, need := range m.Needs {
			it.Needs = append(it.Needs, page.T("catalog.need."+need))
		}
		if len(m.Needs) == 0 {
			v.Applies = append(v.Applies, it)
		} else {
			v.Maybe = append(v.Maybe, it)
		}
	}
	page.Data = v
	h.web.Page(w, r, http.StatusOK, "services_for_you", page)
}
