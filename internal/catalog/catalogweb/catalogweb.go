// Package catalogweb is the HTTP side of the catalog block: the public
// catalog pages (search and browse at /services, a start page per
// service), "services for you" for the signed-in citizen, and the public
// JSON read API under /api/v1/services.
//
// Every route is public except /services/for-you, which needs a full
// session; the table test in cmd/portico checks both.
package catalogweb

import (
	"context"
	"embed"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

//go:embed templates/*.html
var templates embed.FS

// Catalog is what the pages need of the catalog block.
type Catalog interface {
	Search(ctx context.Context, req catalog.SearchRequest) (catalog.SearchResult, error)
	Latest(ctx context.Context, id string) (catalog.Published, error)
	Requirements(p catalog.Published) ([]catalog.Reason, error)
	ForYou(ctx context.Context, prof catalog.Profile, lang string, now time.Time) ([]catalog.Match, error)
	Unmet(p catalog.Published, prof catalog.Profile, now time.Time) ([]manifest.Unmet, error)
	Alternatives(ctx context.Context, p catalog.Published, prof catalog.Profile, lang string, now time.Time) ([]catalog.Published, error)
}

// Tenancy is what the pages need of the tenancy block: names of agencies
// and jurisdictions, and the jurisdictions of a home address.
type Tenancy interface {
	Jurisdictions(ctx context.Context) ([]tenancy.Jurisdiction, error)
	Agencies(ctx context.Context, jurisdictionID string) ([]tenancy.Agency, error)
	ResolveZIP(ctx context.Context, zip string) ([]tenancy.Jurisdiction, error)
}

// ReportLink is a report-a-problem service (the report block) a search
// matched: its name and description in the page's language, and its form.
type ReportLink struct {
	Name, Description, URL string
}

// Reports finds the report-a-problem services whose name, description or
// keywords match a search's words, so that "pothole" finds the form that
// takes pothole reports beside the catalog's services (internal/app
// adapts the report block). Optional.
type Reports interface {
	MatchReports(ctx context.Context, terms []string, lang i18n.Lang) ([]ReportLink, error)
}

// SetReports makes the search page list the report services that match.
func (h *Handlers) SetReports(r Reports) { h.reports = r }

var (
	_ Catalog = (*catalog.Service)(nil)
	_ Tenancy = (*tenancy.Service)(nil)
)

// Handlers serves the catalog pages and API.
type Handlers struct {
	web     *web.Server
	catalog Catalog
	tenancy Tenancy
	clock   platform.Clock
	reports Reports
}

// Register adds the catalog's pages to s; RegisterAPI on the result adds
// its API operations.
func Register(s *web.Server, cat Catalog, t Tenancy, clock platform.Clock) (*Handlers, error) {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return nil, err
	}
	h := &Handlers{web: s, catalog: cat, tenancy: t, clock: clock}
	s.HandleFunc("GET /services", h.search)
	s.Handle("GET /services/for-you", identityweb.SignedIn(s, h.forYou))
	s.HandleFunc("GET /services/{id}", h.start)
	return h, nil
}

// names holds the names of agencies and jurisdictions for one request.
type names struct {
	agencies      map[string]tenancy.Agency
	jurisdictions map[string]tenancy.Jurisdiction
}

func (h *Handlers) names(ctx context.Context) (names, error) {
	n := names{agencies: map[string]tenancy.Agency{}, jurisdictions: map[string]tenancy.Jurisdiction{}}
	as, err := h.tenancy.Agencies(ctx, "")
	if err != nil {
		return n, err
	}
	for _, a := range as {
		n.agencies[a.ID] = a
	}
	js, err := h.tenancy.Jurisdictions(ctx)
	if err != nil {
		return n, err
	}
	for _, j := range js {
		n.jurisdictions[j.ID] = j
	}
	return n, nil
}

func (n names) agency(id string) manifest.Text {
	a, ok := n.agencies[id]
	if !ok {
		return manifest.Text{EN: id, ES: id}
	}
	return manifest.Text{EN: a.Name, ES: cmpOr(a.NameES, a.Name)}
}

func (n names) jurisdiction(id string) manifest.Text {
	j, ok := n.jurisdictions[id]
	if !ok {
		return manifest.Text{EN: id, ES: id}
	}
	return manifest.Text{EN: j.Name, ES: cmpOr(j.NameES, j.Name)}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pick returns t in lang.
func pick(t manifest.Text, lang i18n.Lang) string {
	if lang == i18n.Spanish && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// searchParams reads the search and browse parameters. A page that is not
// a positive number is an input error, not a server one.
func searchParams(r *http.Request) (catalog.SearchRequest, error) {
	q := r.URL.Query()
	req := catalog.SearchRequest{
		Q: q.Get("q"), Category: q.Get("category"), Agency: q.Get("agency"), Lang: string(web.Lang(r)), Page: 1,
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100000 {
			return req, platform.Invalid("page", "catalog.search.page")
		}
		req.Page = n
	}
	return req, nil
}

// searchURL is /services with the given parameters, leaving out empty ones.
func searchURL(base string, req catalog.SearchRequest, page int) string {
	v := url.Values{}
	if strings.TrimSpace(req.Q) != "" {
		v.Set("q", req.Q)
	}
	if req.Category != "" {
		v.Set("category", req.Category)
	}
	if req.Agency != "" {
		v.Set("agency", req.Agency)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// latest returns the service named in the path. An id that cannot be a
// service id (manifest ids are slugs) is not found without asking the
// database, which would refuse NUL bytes with an error of its own.
func (h *Handlers) latest(r *http.Request) (catalog.Published, error) {
	id := r.PathValue("id")
	if tenancy.ValidateID("id", id) != nil {
		return catalog.Published{}, platform.Errorf(platform.CodeNotFound, "service %q is not published", id)
	}
	return h.catalog.Latest(r.Context(), id)
}

// profile builds what the catalog needs to know about the signed-in
// account, as every block builds it (manifest.PersonOf): age from the date
// of birth, and the jurisdictions of the home address's ZIP code.
func (h *Handlers) profile(ctx context.Context, a *identity.Account) (catalog.Profile, error) {
	facts := manifest.Facts{DateOfBirth: a.DateOfBirth, Language: a.Lang}
	var prof catalog.Profile
	prof.Person, prof.AgeKnown = manifest.PersonOf(facts, h.clock.Now())
	if a.Residential.ZIP != "" {
		js, err := h.tenancy.ResolveZIP(ctx, a.Residential.ZIP)
		switch {
		case platform.ErrorCode(err) == platform.CodeInvalid:
			// A ZIP code we cannot read is as good as none: ask for it.
		case err != nil:
			return prof, err
		default:
			prof.ResidenceKnown = true
			prof.Person.Residence.ZIP = a.Residential.ZIP
			for _, j := range js {
				prof.Person.Residence.Jurisdictions = append(prof.Person.Residence.Jurisdictions, j.ID)
			}
		}
	}
	return prof, nil
}
