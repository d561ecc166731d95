package catalogweb

import (
	"errors"
	"net/http"
	"time"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/platform"
)

// The public catalog API. Every request and response type is declared in
// this file, so the OpenAPI 3.1 document can be generated from (or checked
// against) them. Texts are given in both languages; errors are RFC 9457
// problems (web.Problem) with Content-Type application/problem+json.

// ServiceList is the response of GET /api/v1/services.
type ServiceList struct {
	Query      string           `json:"query"`    // q as received
	Lang       string           `json:"lang"`     // "en" or "es": the language q was searched in
	Category   string           `json:"category"` // the category filter, or ""
	Agency     string           `json:"agency"`   // the agency filter, or ""
	Total      int              `json:"total"`    // matching services on all pages
	Page       int              `json:"page"`     // from 1
	PageSize   int              `json:"page_size"`
	Pages      int              `json:"pages"`
	Services   []ServiceSummary `json:"services"`
	Categories []FacetCount     `json:"categories"` // counts ignoring the category filter
	Agencies   []FacetCount     `json:"agencies"`   // counts ignoring the agency filter
}

// ServiceSummary is one service (its latest published version) in a list.
type ServiceSummary struct {
	ID       string        `json:"id"`
	Version  int           `json:"version"`
	Title    manifest.Text `json:"title"`
	Summary  manifest.Text `json:"summary"`
	Category Named         `json:"category"`
	Agency   Named         `json:"agency"`
	Kind     string        `json:"kind"`     // application, licence, permit…
	Maturity string        `json:"maturity"` // alpha, beta or live
	URL      string        `json:"url"`      // its start page
}

// Named is an id with its name in both languages.
type Named struct {
	ID   string        `json:"id"`
	Name manifest.Text `json:"name"`
}

// FacetCount is a category or agency with the number of matching services.
type FacetCount struct {
	ID    string        `json:"id"`
	Name  manifest.Text `json:"name"`
	Count int           `json:"count"`
}

// ServiceDetail is the response of GET /api/v1/services/{id}: what the
// service's start page says.
type ServiceDetail struct {
	ServiceSummary
	Keywords      manifest.Keywords `json:"keywords"`
	Jurisdictions []Named           `json:"jurisdictions"`
	// Requirements are the eligibility rules in plain terms: kind is
	// "stated" (text: the manifest's reason in en and es), "lives_in"
	// (arg: jurisdiction id), "age" (arg: years), "verified" or "rules"
	// (other rules, checked when applying).
	Requirements []catalog.Reason `json:"requirements"`
	Documents    []DocumentNeed   `json:"documents"` // files the form asks for
	Pages        int              `json:"pages"`
	Questions    int              `json:"questions"`
	Minutes      int              `json:"minutes"` // a rough allowance
	Fee          FeeInfo          `json:"fee"`
	PublishedAt  time.Time        `json:"published_at"`
	ApplyURL     string           `json:"apply_url"` // POST here to start an application
}

// FeeInfo is the service's fee as its start page states it.
type FeeInfo struct {
	Kind     string `json:"kind"`             // "none", "fixed" or "variable" (depends on the answers)
	Amount   *int64 `json:"amount,omitempty"` // minor units, when fixed
	Currency string `json:"currency,omitempty"`
}

// DocumentNeed is a file the form asks for.
type DocumentNeed struct {
	Label       manifest.Text `json:"label"`
	Conditional bool          `json:"conditional"` // only when earlier answers call for it
	Optional    bool          `json:"optional"`
}

func (h *Handlers) summaryOf(p catalog.Published, n names) ServiceSummary {
	m := p.Manifest
	return ServiceSummary{
		ID: p.ID, Version: p.Version, Title: m.Title, Summary: m.Summary,
		Category: Named{ID: m.Category, Name: catalog.CategoryName(m.Category)},
		Agency:   Named{ID: p.AgencyID, Name: n.agency(p.AgencyID)},
		Kind:     string(m.Kind), Maturity: m.Maturity, URL: "/services/" + p.ID,
	}
}

// RegisterAPI adds the public catalog operations to a (and so to the
// OpenAPI document).
func (h *Handlers) RegisterAPI(a *api.API) {
	a.Handle(api.Op{
		Method: http.MethodGet, Path: "/api/v1/services", ID: "listServices", Tag: "catalog", Auth: api.Public,
		Summary:     "Search or browse the catalog",
		Description: "Full-text search in English or Spanish (q, analysed in lang or the Accept-Language), with category and agency facets.",
		Params: []api.Param{
			{Name: "q", In: "query", Description: "Words to search for (at most 500 bytes)"},
			{Name: "lang", In: "query", Description: "en or es: the language q is written in"},
			{Name: "category", In: "query", Description: "A category id"},
			{Name: "agency", In: "query", Description: "An agency id"},
			{Name: "page", In: "query", Description: "Page number from 1", Type: "integer"},
		},
		Response: ServiceList{},
	}, h.apiList)
	a.Handle(api.Op{
		Method: http.MethodGet, Path: "/api/v1/services/{id}", ID: "getService", Tag: "catalog", Auth: api.Public,
		Summary:  "The latest published version of one service, as its start page describes it",
		Params:   []api.Param{{Name: "id", In: "path", Description: "The service id"}},
		Response: ServiceDetail{},
	}, h.apiService)
}

// translate returns err with its message translated when it is a message
// key (the catalog reports input errors as keys).
func (h *Handlers) translate(r *http.Request, err error) error {
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Code == platform.CodeInvalid {
		page := h.web.Renderer().NewPage(r, nil)
		msg := page.T(pe.Message)
		if pe.Message == "catalog.search.toolong" {
			msg = page.T(pe.Message, catalog.MaxQueryBytes)
		}
		return platform.Invalid(pe.Field, msg)
	}
	return err
}

// apiList is GET /api/v1/services?q=&category=&agency=&page=&lang=:
// search (q) or browse the catalog. Responds 200 with ServiceList; 400
// problem for q longer than 500 bytes, a page that is not a positive
// integer, or a filter longer than 100 bytes. lang (or Accept-Language)
// chooses the language q is analysed in.
func (h *Handlers) apiList(r *http.Request, _ api.Principal) (any, error) {
	req, err := searchParams(r)
	if err != nil {
		return nil, h.translate(r, err)
	}
	res, err := h.catalog.Search(r.Context(), req)
	if err != nil {
		return nil, h.translate(r, err)
	}
	n, err := h.names(r.Context())
	if err != nil {
		return nil, err
	}
	out := ServiceList{
		Query: req.Q, Lang: req.Lang, Category: req.Category, Agency: req.Agency,
		Total: res.Total, Page: res.Page, PageSize: catalog.PageSize, Pages: res.Pages,
		Services: []ServiceSummary{}, Categories: []FacetCount{}, Agencies: []FacetCount{},
	}
	for _, p := range res.Services {
		out.Services = append(out.Services, h.summaryOf(p, n))
	}
	for _, f := range res.Categories {
		out.Categories = append(out.Categories, FacetCount{ID: f.ID, Name: catalog.CategoryName(f.ID), Count: f.Count})
	}
	for _, f := range res.Agencies {
		out.Agencies = append(out.Agencies, FacetCount{ID: f.ID, Name: n.agency(f.ID), Count: f.Count})
	}
	return out, nil
}

// apiService is GET /api/v1/services/{id}: the latest published version
// of one service, as ServiceDetail. Responds 404 problem for an unknown id.
func (h *Handlers) apiService(r *http.Request, _ api.Principal) (any, error) {
	p, err := h.latest(r)
	if err != nil {
		return nil, h.translate(r, err)
	}
	n, err := h.names(r.Context())
	if err != nil {
		return nil, err
	}
	reqs, err := h.catalog.Requirements(p)
	if err != nil {
		return nil, err
	}
	m := p.Manifest
	f := deriveFacts(m)
	out := ServiceDetail{
		ServiceSummary: h.summaryOf(p, n), Keywords: m.Keywords, Jurisdictions: []Named{},
		Requirements: append([]catalog.Reason{}, reqs...), Documents: []DocumentNeed{},
		Pages: f.Pages, Questions: f.Questions, Minutes: f.Minutes, Fee: f.Fee,
		PublishedAt: p.PublishedAt, ApplyURL: "/services/" + p.ID + "/apply",
	}
	for _, j := range m.Jurisdictions {
		out.Jurisdictions = append(out.Jurisdictions, Named{ID: j, Name: n.jurisdiction(j)})
	}
	out.Documents = append(out.Documents, f.Documents...)
	return out, nil
}
