// Package portal is the citizen-facing pages that compose the blocks: the
// home page and "your government" (the jurisdictions and agencies that
// serve a ZIP code). Later blocks add the catalog, dashboard and search.
package portal

import (
	"context"
	"embed"
	"net/http"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Tenancy is what the portal needs of the tenancy block.
type Tenancy interface {
	Jurisdictions(ctx context.Context) ([]tenancy.Jurisdiction, error)
	Agencies(ctx context.Context, jurisdictionID string) ([]tenancy.Agency, error)
	ResolveZIP(ctx context.Context, zip string) ([]tenancy.Jurisdiction, error)
	Zone(ctx context.Context) *time.Location
}

var _ Tenancy = (*tenancy.Service)(nil)

// Portal serves the citizen pages.
type Portal struct {
	web      *web.Server
	tenancy  Tenancy
	catalog  Catalog
	clock    platform.Clock
	featured []string
	latest   func(ctx context.Context, id string) (catalog.Published, error)
	homes    homeCache
}

// Options are what the portal is given besides the web server.
type Options struct {
	Tenancy Tenancy
	Catalog interface {
		Catalog
		Latest(ctx context.Context, id string) (catalog.Published, error)
	}
	Clock platform.Clock
	// Featured are the services the home page lists, in order, until
	// there are submissions to rank services by (ids not published are
	// skipped; the rest of the list is the catalog in title order).
	Featured []string
}

// Register adds the portal's pages to s.
func Register(s *web.Server, o Options) error {
	if err := platform.Required("portal",
		platform.Dep{Name: "tenancy", Missing: o.Tenancy == nil},
		platform.Dep{Name: "catalog", Missing: o.Catalog == nil},
		platform.Dep{Name: "clock", Missing: o.Clock == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	p := &Portal{web: s, tenancy: o.Tenancy, catalog: o.Catalog, clock: o.Clock, featured: o.Featured, latest: o.Catalog.Latest}
	s.HandleFunc("GET /{$}", p.home)
	s.HandleFunc("GET /government", p.government)
	s.HandleFunc("GET /government/lookup", p.lookup)
	s.HandleFunc("GET /life-events/{id}", p.lifeEvent)
	s.HandleFunc("GET /agencies/{id}", p.agency)
	return nil
}

// JurisdictionView is a jurisdiction with its agencies, for pages.
type JurisdictionView struct {
	tenancy.Jurisdiction
	Depth    int
	Agencies []tenancy.Agency
	ZIPList  string
}

func (p *Portal) views(ctx context.Context, js []tenancy.Jurisdiction) ([]JurisdictionView, error) {
	agencies, err := p.tenancy.Agencies(ctx, "")
	if err != nil {
		return nil, err
	}
	byJ := map[string][]tenancy.Agency{}
	for _, a := range agencies {
		byJ[a.JurisdictionID] = append(byJ[a.JurisdictionID], a)
	}
	depth := map[string]int{}
	out := make([]JurisdictionView, 0, len(js))
	for _, j := range js {
		d := 0
		if j.ParentID != "" {
			d = depth[j.ParentID] + 1
		}
		depth[j.ID] = d
		out = append(out, JurisdictionView{Jurisdiction: j, Depth: d, Agencies: byJ[j.ID], ZIPList: strings.Join(j.ZIPs, ", ")})
	}
	return out, nil
}

func (p *Portal) government(w http.ResponseWriter, r *http.Request) {
	js, err := p.tenancy.Jurisdictions(r.Context())
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	views, err := p.views(r.Context(), js)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	p.web.Page(w, r, http.StatusOK, "government", p.web.Renderer().NewPage(r, views))
}

type lookupData struct {
	ZIP        string
	Results    []JurisdictionView
	LifeEvents []string
}

// lookup resolves a ZIP code. A bad ZIP re-renders the home page with
// the lookup form's error summary and the typed value kept, status 400.
func (p *Portal) lookup(w http.ResponseWriter, r *http.Request) {
	zip := strings.TrimSpace(r.URL.Query().Get("zip"))
	page := p.web.Renderer().NewPage(r, nil)
	bad := func(msg string) {
		d, err := p.homeData(r.Context(), page.Lang, zip)
		if err != nil {
			p.web.Error(w, r, err)
			return
		}
		page.Data = d
		page.Errors = []web.FieldError{{Field: "zip", Message: page.T(msg)}}
		p.web.Page(w, r, http.StatusBadRequest, "home", page)
	}
	if zip == "" {
		bad("error.zip.required")
		return
	}
	js, err := p.tenancy.ResolveZIP(r.Context(), zip)
	if platform.ErrorCode(err) == platform.CodeInvalid {
		bad("error.zip.format")
		return
	}
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	views, err := p.views(r.Context(), js)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	page.Data = lookupData{ZIP: zip, Results: views, LifeEvents: manifest.LifeEvents}
	p.web.Page(w, r, http.StatusOK, "lookup", page)
}
