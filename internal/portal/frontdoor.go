package portal

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

// Catalog is what the front door needs of the catalog block.
type Catalog interface {
	MostUsed(ctx context.Context, now time.Time, zone *time.Location, limit int) ([]catalog.Used, error)
	LifeEventServices(ctx context.Context, event string) ([]catalog.Published, error)
	List(ctx context.Context, agency string) ([]catalog.Published, error)
	Search(ctx context.Context, req catalog.SearchRequest) (catalog.SearchResult, error)
	// Changes moves when this process changes what the home page shows
	// (catalog.Service.Changes).
	Changes() uint64
}

var _ Catalog = (*catalog.Service)(nil)

// homeServices is how many services the home page lists.
const homeServices = 6

// serviceLink is a service as the front door lists it, with the agency
// that offers it (linked to its page).
type serviceLink struct {
	ID, Title, Summary string
	AgencyID, Agency   string
	Where              string // the jurisdictions it is offered in
}

// agencyNames holds the agencies and jurisdictions of one request.
type agencyNames struct {
	agencies      map[string]tenancy.Agency
	jurisdictions map[string]tenancy.Jurisdiction
}

func (p *Portal) names(ctx context.Context) (agencyNames, error) {
	n := agencyNames{agencies: map[string]tenancy.Agency{}, jurisdictions: map[string]tenancy.Jurisdiction{}}
	as, err := p.tenancy.Agencies(ctx, "")
	if err != nil {
		return n, err
	}
	for _, a := range as {
		n.agencies[a.ID] = a
	}
	js, err := p.tenancy.Jurisdictions(ctx)
	if err != nil {
		return n, err
	}
	for _, j := range js {
		n.jurisdictions[j.ID] = j
	}
	return n, nil
}

func pick(t manifest.Text, lang i18n.Lang) string {
	if lang == i18n.Spanish && t.ES != "" {
		return t.ES
	}
	return t.EN
}

func agencyName(a tenancy.Agency, lang i18n.Lang) string {
	if lang == i18n.Spanish && a.NameES != "" {
		return a.NameES
	}
	return a.Name
}

func jurisdictionName(j tenancy.Jurisdiction, lang i18n.Lang) string {
	if lang == i18n.Spanish && j.NameES != "" {
		return j.NameES
	}
	return j.Name
}

func (n agencyNames) link(s catalog.Published, lang i18n.Lang) serviceLink {
	l := serviceLink{ID: s.ID, Title: pick(s.Manifest.Title, lang), Summary: pick(s.Manifest.Summary, lang), AgencyID: s.AgencyID, Agency: s.AgencyID}
	if a, ok := n.agencies[s.AgencyID]; ok {
		l.Agency = agencyName(a, lang)
	}
	var where []string
	for _, id := range s.Manifest.Jurisdictions {
		if j, ok := n.jurisdictions[id]; ok {
			where = append(where, jurisdictionName(j, lang))
		} else {
			where = append(where, id)
		}
	}
	l.Where = strings.Join(where, ", ")
	return l
}

type homeData struct {
	ZIP        string
	Services   []serviceLink
	MostUsed   bool // Services are ranked by real submissions
	LifeEvents []string
}

// V gives the ZIP code back to the lookup form after an error.
func (d homeData) V(name string) string {
	if name == "zip" {
		return d.ZIP
	}
	return ""
}

// homeData gathers the home page: the most used services (by submissions
// in the last 90 days, from the catalog's counter), or, before there are
// any, the curated services and then the catalog in title order, under a
// heading that claims nothing about use; and the life events.
func (p *Portal) homeData(ctx context.Context, lang i18n.Lang, zip string) (homeData, error) {
	e, err := p.homeEntry(ctx, lang)
	d := e.d
	d.ZIP = zip
	return d, err
}

// homeEntry is the cached home page of lang, built when it is missing or
// stale.
func (p *Portal) homeEntry(ctx context.Context, lang i18n.Lang) (cachedHome, error) {
	now, changes := p.clock.Now(), p.catalog.Changes()
	if e, ok := p.homes.get(lang, changes, now); ok {
		return e, nil
	}
	d, err := p.buildHomeData(ctx, lang)
	if err != nil {
		return cachedHome{d: d}, err
	}
	e := cachedHome{d: d, changes: changes, at: now}
	p.homes.put(lang, e)
	return e, nil
}

// homeCacheTTL is how long the home page's list of services is reused.
// Building it reads every agency, jurisdiction and ZIP code, the usage
// counter and the catalog: most of the cost of the most visited page,
// for a list that changes when a service is published or submitted. A
// change made in this process is seen at once (Catalog.Changes); one made
// by another replica or a CLI command (an agency renamed) within this.
const homeCacheTTL = 5 * time.Second

// homeCache holds the home page's data per language and, once a person
// who is not signed in has seen it, the page as rendered for them (the
// same bytes for everyone: the layout's header for nobody signed in, the
// same list, no request id, no token). Rendering the layout and the page
// was three quarters of the server's work for the most visited page
// (docs/performance.md, issue 14); the rendered page lives and goes with
// the data it was rendered from. Entries are shared by concurrent
// requests and never changed once stored.
type homeCache struct {
	mu sync.Mutex
	m  map[i18n.Lang]cachedHome
}

type cachedHome struct {
	d       homeData
	changes uint64
	at      time.Time
	page    []byte // the page for someone not signed in, or nil
}

func (c *homeCache) get(lang i18n.Lang, changes uint64, now time.Time) (cachedHome, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[lang]
	if !ok || e.changes != changes || now.Sub(e.at) >= homeCacheTTL || now.Before(e.at) {
		return cachedHome{}, false
	}
	return e, true
}

func (c *homeCache) put(lang i18n.Lang, e cachedHome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[i18n.Lang]cachedHome{}
	}
	c.m[lang] = e
}

// putPage stores the anonymous page rendered from entry e, unless e has
// been replaced meanwhile (the page would outlive its data).
func (c *homeCache) putPage(lang i18n.Lang, e cachedHome, page []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.m[lang]; ok && cur.changes == e.changes && cur.at.Equal(e.at) && cur.page == nil {
		cur.page = page
		c.m[lang] = cur
	}
}

// buildHomeData reads what homeData caches.
func (p *Portal) buildHomeData(ctx context.Context, lang i18n.Lang) (homeData, error) {
	d := homeData{LifeEvents: manifest.LifeEvents}
	n, err := p.names(ctx)
	if err != nil {
		return d, err
	}
	used, err := p.catalog.MostUsed(ctx, p.clock.Now(), p.tenancy.Zone(ctx), homeServices)
	if err != nil {
		return d, err
	}
	if len(used) > 0 {
		d.MostUsed = true
		for _, u := range used {
			d.Services = append(d.Services, n.link(u.Service, lang))
		}
		return d, nil
	}
	seen := map[string]bool{}
	for _, id := range p.featured {
		if len(d.Services) == homeServices {
			break
		}
		res, err := p.catalogLatest(ctx, id)
		if err != nil {
			return d, err
		}
		if res != nil && !seen[id] {
			seen[id] = true
			d.Services = append(d.Services, n.link(*res, lang))
		}
	}
	if len(d.Services) < homeServices {
		res, err := p.catalog.Search(ctx, catalog.SearchRequest{Lang: string(lang), Page: 1})
		if err != nil {
			return d, err
		}
		for _, s := range res.Services {
			if len(d.Services) == homeServices {
				break
			}
			if !seen[s.ID] {
				seen[s.ID] = true
				d.Services = append(d.Services, n.link(s, lang))
			}
		}
	}
	return d, nil
}

// catalogLatest is the latest version of a curated service, or nil when it
// is not published (a curated id the catalog no longer has is skipped).
func (p *Portal) catalogLatest(ctx context.Context, id string) (*catalog.Published, error) {
	if p.latest == nil {
		return nil, nil
	}
	s, err := p.latest(ctx, id)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// home serves the front door. For someone not signed in, on the bare
// path (no query: the language switch link is then the same for all), the
// page is rendered once per cached list (homeCache) and sent as bytes.
func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	page := p.web.Renderer().NewPage(r, nil)
	e, err := p.homeEntry(r.Context(), page.Lang)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	if r.URL.RawQuery != "" || !page.Viewer.Anonymous() {
		page.Data = e.d
		p.web.Page(w, r, http.StatusOK, "home", page)
		return
	}
	if e.page == nil {
		page.Data = e.d
		body, err := p.web.Renderer().RenderBytes(http.StatusOK, "home", page)
		if err != nil {
			p.web.Page(w, r, http.StatusOK, "home", page) // renders again, and answers the failure as every page does
			return
		}
		p.homes.putPage(page.Lang, e, body)
		e.page = body
	}
	p.web.SendRendered(w, r, http.StatusOK, e.page)
}

// levelGroup is the services of one level of government on a life-event
// page.
type levelGroup struct {
	Level    string // state, county or city (cities and towns together)
	Services []serviceLink
}

type lifeEventData struct {
	ID        string
	ZIP       string // as typed, or the signed-in person's home ZIP
	FromHome  bool   // ZIP is the signed-in person's home address
	Narrowed  bool   // only services that apply to ZIP are shown
	Unknown   bool   // ZIP is well formed but no jurisdiction here has it
	Hidden    int    // services left out because they are offered elsewhere
	AllURL    string // the page without narrowing
	Groups    []levelGroup
	Total     int
	OtherOnes []string // the other life events
}

// V gives the ZIP code back to the form after an error.
func (d lifeEventData) V(name string) string {
	if name == "zip" {
		return d.ZIP
	}
	return ""
}

// lifeEvent is /life-events/{id}: every service for that moment in life,
// from every level of government, grouped by level; narrowed to those
// offered where the visitor lives when a ZIP code is given (?zip=) or
// the signed-in person's profile has a home address (?all=1 shows all).
func (p *Portal) lifeEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !catalog.IsLifeEvent(id) {
		p.web.Error(w, r, platform.Errorf(platform.CodeNotFound, "there is no life event %q", id))
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	d := lifeEventData{ID: id, AllURL: "/life-events/" + id + "?all=1"}
	for _, e := range manifest.LifeEvents {
		if e != id {
			d.OtherOnes = append(d.OtherOnes, e)
		}
	}
	q := r.URL.Query()
	d.ZIP = strings.TrimSpace(q.Get("zip"))
	if d.ZIP == "" && q.Get("all") == "" {
		if a := citizen(r); a != nil && a.Residential.ZIP != "" {
			d.ZIP, d.FromHome = a.Residential.ZIP, true
		}
	}
	status := http.StatusOK
	var chain map[string]bool
	if d.ZIP != "" {
		js, err := p.tenancy.ResolveZIP(ctx, d.ZIP)
		switch {
		case platform.ErrorCode(err) == platform.CodeInvalid && !d.FromHome:
			status = http.StatusBadRequest
			page.Errors = []web.FieldError{{Field: "zip", Message: page.T("error.zip.format")}}
		case platform.ErrorCode(err) == platform.CodeInvalid:
			d.ZIP, d.FromHome = "", false // a profile ZIP we cannot read: show everything
		case err != nil:
			p.web.Error(w, r, err)
			return
		case len(js) == 0:
			d.Unknown = true
		default:
			chain = map[string]bool{}
			for _, j := range js {
				chain[j.ID] = true
			}
			d.Narrowed = true
		}
	}
	services, err := p.catalog.LifeEventServices(ctx, id)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	n, err := p.names(ctx)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	groups := map[string][]serviceLink{}
	for _, s := range services {
		if chain != nil && !slices.ContainsFunc(s.Manifest.Jurisdictions, func(j string) bool { return chain[j] }) {
			d.Hidden++
			continue
		}
		level := "state"
		if a, ok := n.agencies[s.AgencyID]; ok {
			if j, ok := n.jurisdictions[a.JurisdictionID]; ok {
				level = string(j.Kind)
			}
		}
		if level == string(tenancy.Town) {
			level = string(tenancy.City)
		}
		groups[level] = append(groups[level], n.link(s, page.Lang))
	}
	for _, level := range []string{"state", "county", "city"} {
		g := groups[level]
		if len(g) == 0 {
			continue
		}
		slices.SortFunc(g, func(a, b serviceLink) int { return strings.Compare(a.Title, b.Title) })
		d.Groups = append(d.Groups, levelGroup{Level: level, Services: g})
		d.Total += len(g)
	}
	page.Data = d
	p.web.Page(w, r, status, "life_event", page)
}

// citizen is the signed-in citizen of r (a full session), or nil.
func citizen(r *http.Request) *identity.Account {
	s, a := identityweb.Current(r)
	if s == nil || a == nil || s.Stage != identity.StageFull || platform.ActorFrom(r.Context()).Kind != platform.ActorCitizen {
		return nil
	}
	return a
}

type agencyData struct {
	Agency       tenancy.Agency
	Name         string
	Jurisdiction string
	Level        string
	Address      []string
	PhoneHref    template.URL // tel: and digits only (html/template refuses tel: in a plain string)
	Hours        string
	Services     []serviceLink
}

// agency is /agencies/{id}: an agency's name, level, how to reach it and
// the services it offers.
func (p *Portal) agency(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if tenancy.ValidateID("id", id) != nil {
		p.web.Error(w, r, platform.Errorf(platform.CodeNotFound, "agency %q not found", id))
		return
	}
	n, err := p.names(ctx)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	a, ok := n.agencies[id]
	if !ok {
		p.web.Error(w, r, platform.Errorf(platform.CodeNotFound, "agency %q not found", id))
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	d := agencyData{Agency: a, Name: agencyName(a, page.Lang), Address: a.Contact.AddressLines(),
		PhoneHref: telHref(a.Contact.Phone), Hours: a.Contact.HoursIn(string(page.Lang))}
	if j, ok := n.jurisdictions[a.JurisdictionID]; ok {
		d.Jurisdiction, d.Level = jurisdictionName(j, page.Lang), string(j.Kind)
	}
	services, err := p.catalog.List(ctx, id)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	for _, s := range services {
		d.Services = append(d.Services, n.link(s, page.Lang))
	}
	slices.SortFunc(d.Services, func(a, b serviceLink) int { return strings.Compare(a.Title, b.Title) })
	page.Data = d
	p.web.Page(w, r, http.StatusOK, "agency", page)
}

// telHref is a tel: URI for a phone number as people write it: its
// digits, with the US country code when it has ten. "" when it has none.
func telHref(phone string) template.URL {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	digits := b.String()
	switch {
	case digits == "":
		return ""
	case strings.HasPrefix(strings.TrimSpace(phone), "+"):
		return template.URL("tel:+" + digits)
	case len(digits) == 10:
		return template.URL("tel:+1" + digits)
	}
	return template.URL("tel:" + digits)
}
