// Package outcomeweb is the outcome block's HTTP side (issue 13): the
// public performance pages (/performance for the whole jurisdiction,
// /performance/{service} per service) with the same figures as JSON
// (/performance.json, /performance/{service}.json); and the console's
// dashboards (/console/outcomes, with a CSV download and, for platform
// administrators, every agency side by side), the form where staff record
// transactions done on paper, by phone or at the counter, and the form
// where an agency enters its monthly costs. The block decides who sees
// and records what (outcome.MayRead, MayRecord, MayEnterCost); the pages
// arrange what they are given.
package outcomeweb

import (
	"context"
	"embed"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/page_*.html
var templates embed.FS

// Outcomes is what the pages need of the block.
type Outcomes interface {
	Report(ctx context.Context, q outcome.Query) (outcome.Report, error)
	AgencyReport(ctx context.Context, by platform.Actor, q outcome.Query) (outcome.Report, error)
	ByAgency(ctx context.Context, by platform.Actor, r outcome.Range) ([]outcome.AgencyFigures, error)
	ByLevel(ctx context.Context, r outcome.Range, service string) ([]outcome.AgencyFigures, error)
	Services(ctx context.Context, agency string) ([]string, error)
	RecordOffline(ctx context.Context, by platform.Actor, r outcome.OfflineRecord) (outcome.OfflineRecord, error)
	EnterCost(ctx context.Context, by platform.Actor, c outcome.Cost) (outcome.Cost, error)
	Today(ctx context.Context) outcome.Day
}

// Agencies is the tenancy block: agency names, and every agency for a
// platform administrator.
type Agencies interface {
	Agencies(ctx context.Context, jurisdictionID string) ([]tenancy.Agency, error)
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// Services is the catalog: a service's title, and an agency's services
// for the forms.
type Services interface {
	Latest(ctx context.Context, id string) (catalog.Published, error)
	List(ctx context.Context, agency string) ([]catalog.Published, error)
}

// Deps are the pages' dependencies, all required.
type Deps struct {
	Outcomes Outcomes
	Agencies Agencies
	Services Services
	Auth     *identityweb.Handlers
}

type handlers struct {
	web *web.Server
	Deps
	titleCache titleCache
}

// titlesFresh is how long services' titles are kept: as long as the
// pages are cached (cachePage), so a renamed service shows within the
// same five minutes.
const titlesFresh = 5 * time.Minute

// titleCache keeps services' titles per agency and language: reading
// them is a read and a parse of every published manifest (the catalog
// has no lighter read), which must not happen on every view of a page
// whose figures are read from a few aggregate rows.
type titleCache struct {
	mu      sync.Mutex
	entries map[string]titleEntry
}

type titleEntry struct {
	at     time.Time
	titles map[string]string
}

// Register adds the performance pages and the console's outcome pages.
func Register(s *web.Server, d Deps) error {
	if err := platform.Required("outcomeweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "outcomes", Missing: d.Outcomes == nil},
		platform.Dep{Name: "agencies", Missing: d.Agencies == nil},
		platform.Dep{Name: "services", Missing: d.Services == nil},
		platform.Dep{Name: "identity pages", Missing: d.Auth == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &handlers{web: s, Deps: d}
	s.HandleFunc("GET /performance", h.performance)
	s.HandleFunc("GET /performance.json", h.performanceJSON)
	s.HandleFunc("GET /performance/{service}", h.servicePerformance)
	staff := func(*http.Request, *identity.Account) bool { return true } // the block decides
	s.Handle("GET /console/outcomes", d.Auth.RequireStaff(staff, h.dashboard))
	s.Handle("GET /console/outcomes.csv", d.Auth.RequireStaff(staff, h.dashboardCSV))
	s.Handle("GET /console/outcomes/agencies", d.Auth.RequireStaff(staff, h.agencies))
	s.Handle("GET /console/outcomes/offline", d.Auth.RequireStaff(staff, h.offlineForm))
	s.Handle("POST /console/outcomes/offline", d.Auth.RequireStaff(staff, h.recordOffline))
	s.Handle("GET /console/outcomes/costs", d.Auth.RequireStaff(staff, h.costForm))
	s.Handle("POST /console/outcomes/costs", d.Auth.RequireStaff(staff, h.enterCost))
	return nil
}

// fail answers a refusal: forbidden for staff of the agency without the
// role, not found for everyone else (web.Server.StaffError).
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.web.StaffError(w, r, err)
}

// title is a service's title in lang, or its id when the catalog does not
// know it (a service withdrawn since).
func (h *handlers) title(ctx context.Context, id string, lang i18n.Lang) string {
	p, err := h.Services.Latest(ctx, id)
	if err != nil || p.Manifest == nil {
		return id
	}
	if lang == i18n.Spanish && p.Manifest.Title.ES != "" {
		return p.Manifest.Title.ES
	}
	return p.Manifest.Title.EN
}

// titles maps the catalog's services (agency's, or every one for "") to
// their titles in lang: one read of the catalog, not one per service.
func (h *handlers) titles(ctx context.Context, agency string, lang i18n.Lang) (map[string]string, error) {
	k := agency + "|" + string(lang)
	h.titleCache.mu.Lock()
	e, ok := h.titleCache.entries[k]
	h.titleCache.mu.Unlock()
	if ok && time.Since(e.at) < titlesFresh {
		return e.titles, nil
	}
	out, err := h.readTitles(ctx, agency, lang)
	if err != nil {
		return nil, err
	}
	h.titleCache.mu.Lock()
	if h.titleCache.entries == nil {
		h.titleCache.entries = map[string]titleEntry{}
	}
	h.titleCache.entries[k] = titleEntry{at: time.Now(), titles: out}
	h.titleCache.mu.Unlock()
	return out, nil
}

// readTitles reads the titles from the catalog (the callers never
// change the map: it is shared through the cache).
func (h *handlers) readTitles(ctx context.Context, agency string, lang i18n.Lang) (map[string]string, error) {
	pubs, err := h.Services.List(ctx, agency)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(pubs))
	for _, p := range pubs {
		if p.Manifest == nil {
			continue
		}
		t := p.Manifest.Title.EN
		if lang == i18n.Spanish && p.Manifest.Title.ES != "" {
			t = p.Manifest.Title.ES
		}
		out[p.ID] = t
	}
	return out, nil
}

// titleOr is the title of id in titles, or id itself (a service withdrawn
// since, or another agency's).
func titleOr(titles map[string]string, id string) string {
	if t, ok := titles[id]; ok {
		return t
	}
	return id
}

func agencyName(a tenancy.Agency, lang i18n.Lang) string {
	if lang == i18n.Spanish && a.NameES != "" {
		return a.NameES
	}
	return a.Name
}

// choice is an option of a select.
type choice struct {
	ID, Name string
	Selected bool
}

// agencyChoices lists the agencies actor may read, in name order, marking
// chosen. Platform administrators may also choose every agency (""),
// listed first.
func (h *handlers) agencyChoices(r *http.Request, actor platform.Actor, chosen string, allowAll bool) ([]choice, string, error) {
	ctx := r.Context()
	lang := web.Lang(r)
	ids, all := outcome.Readable(actor)
	var out []choice
	if all {
		ags, err := h.Agencies.Agencies(ctx, "")
		if err != nil {
			return nil, "", err
		}
		for _, a := range ags {
			out = append(out, choice{ID: a.ID, Name: agencyName(a, lang)})
		}
	} else {
		for _, id := range ids {
			a, err := h.Agencies.Agency(ctx, id)
			if err != nil {
				continue // a grant for an agency since removed
			}
			out = append(out, choice{ID: a.ID, Name: agencyName(a, lang)})
		}
	}
	if len(out) == 0 {
		return nil, "", platform.Errorf(platform.CodeNotFound, "you see no agency's measures")
	}
	slices.SortFunc(out, func(a, b choice) int { return strings.Compare(a.Name, b.Name) })
	if all && allowAll {
		out = append([]choice{{ID: "", Name: h.web.Renderer().NewPage(r, nil).T("outcome.agency.all")}}, out...)
	} else if chosen == "" {
		chosen = out[0].ID
	}
	found := false
	for i := range out {
		if out[i].ID == chosen {
			out[i].Selected, found = true, true
		}
	}
	if !found {
		return nil, "", outcome.MayRead(actor, chosen)
	}
	return out, chosen, nil
}

// serviceChoices lists agency's services (every service with measures
// when agency is ""), marking chosen; "" is every service.
func (h *handlers) serviceChoices(r *http.Request, agency, chosen string, allLabel bool) ([]choice, error) {
	ctx := r.Context()
	lang := web.Lang(r)
	ids, err := h.Outcomes.Services(ctx, agency)
	if err != nil {
		return nil, err
	}
	titles, err := h.titles(ctx, agency, lang)
	if err != nil {
		return nil, err
	}
	if agency != "" { // the agency's services without measures yet, too
		for id := range titles {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	var out []choice
	for _, id := range ids {
		out = append(out, choice{ID: id, Name: titleOr(titles, id), Selected: id == chosen})
	}
	slices.SortFunc(out, func(a, b choice) int { return strings.Compare(a.Name, b.Name) })
	if allLabel {
		out = append([]choice{{ID: "", Name: h.web.Renderer().NewPage(r, nil).T("outcome.service.all"), Selected: chosen == ""}}, out...)
	}
	return out, nil
}

// query strings for links that keep the filter.
func filterQuery(v url.Values, keep ...string) string {
	out := url.Values{}
	for _, k := range keep {
		if s := v.Get(k); s != "" {
			out.Set(k, s)
		}
	}
	return out.Encode()
}
