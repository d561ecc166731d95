// Package pluginconsole is the staff console's plug-in catalogue
// (/console/plugins): every registered plug-in with its provider, the
// personal data it asks for, the agencies using it and its health; a
// plug-in's page with its operations, events, enablements, access rights
// and latest failed exchanges; and the actions that mirror `portico
// plugin enable|disable|remove` (registering a manifest stays in the CLI).
//
// Who may do what. The catalogue is for reuse, so platform
// administrators and every agency administrator see all of it;
// caseworkers, finance and auditors do not (they neither enable plug-ins
// nor need their health). An agency administrator enables and disables a
// plug-in for their own agency only; a platform administrator for any
// agency, and removes plug-ins. The edge (the allow functions in
// Register) turns everyone else away with a not-found page; the plug-in
// registry and the gateway decide again on the actor in their methods,
// and the registry audits every change.
package pluginconsole

import (
	"context"
	"embed"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Registry is what the pages need of the plug-in registry.
type Registry interface {
	List(ctx context.Context, actor platform.Actor) ([]plugin.Plugin, error)
	Get(ctx context.Context, actor platform.Actor, id string) (*plugin.Plugin, error)
	Enable(ctx context.Context, actor platform.Actor, req plugin.EnableRequest) (*plugin.Enabled, error)
	Disable(ctx context.Context, actor platform.Actor, pluginID, agency string) (*plugin.Enablement, error)
	Remove(ctx context.Context, actor platform.Actor, pluginID string, force bool) error
}

// Gateway is what the pages need of the gateway: each plug-in's health
// and latest failed exchanges.
type Gateway interface {
	Health(ctx context.Context, actor platform.Actor, pluginID string) (gateway.Health, error)
	RecentErrors(ctx context.Context, actor platform.Actor, pluginID string, n int) ([]gateway.Exchange, error)
}

// Agencies is what the pages need of the tenancy block.
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
	Agencies(ctx context.Context, jurisdictionID string) ([]tenancy.Agency, error)
}

// Catalog is what the pages need of the catalog: an agency's services
// (the services an access right may name) and a service's title (for
// "answers to the form of …").
type Catalog interface {
	List(ctx context.Context, agency string) ([]catalog.Published, error)
	Latest(ctx context.Context, id string) (catalog.Published, error)
}

// RecentErrorsShown is how many failed exchanges a plug-in's page lists.
const RecentErrorsShown = 10

// Handlers serve the plug-in pages.
type Handlers struct {
	web      *web.Server
	registry Registry
	gateway  Gateway
	agencies Agencies
	catalog  Catalog
}

// MayBrowse reports whether a may see the plug-in catalogue: a platform
// administrator or an administrator of any agency. The layout's
// navigation shows "Plug-ins" by the same rule (identity.Account.Administrator).
func MayBrowse(a *identity.Account) bool { return a != nil && a.Administrator() }

// Register adds the pages.
func Register(s *web.Server, idw *identityweb.Handlers, reg Registry, gw Gateway, ag Agencies, cat Catalog) error {
	if err := platform.Required("pluginconsole", platform.Dep{Name: "plug-in registry", Missing: reg == nil}, platform.Dep{Name: "gateway", Missing: gw == nil},
		platform.Dep{Name: "agencies", Missing: ag == nil}, platform.Dep{Name: "catalog", Missing: cat == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &Handlers{web: s, registry: reg, gateway: gw, agencies: ag, catalog: cat}
	browse := func(_ *http.Request, a *identity.Account) bool { return MayBrowse(a) }
	adminOf := func(r *http.Request, a *identity.Account) bool {
		return a.PlatformAdmin || a.HasRole(r.PathValue("agency"), identity.AgencyAdmin)
	}
	platformAdmin := func(_ *http.Request, a *identity.Account) bool { return a.PlatformAdmin }
	s.Handle("GET /console/plugins", idw.RequireStaff(browse, h.list))
	s.Handle("GET /console/plugins/{id}", idw.RequireStaff(browse, h.detail))
	s.Handle("GET /console/plugins/{id}/agency", idw.RequireStaff(platformAdmin, h.chooseAgency))
	s.Handle("GET /console/plugins/{id}/agencies/{agency}", idw.RequireStaff(adminOf, h.use))
	s.Handle("POST /console/plugins/{id}/agencies/{agency}/enable", idw.RequireStaff(adminOf, h.enable))
	s.Handle("POST /console/plugins/{id}/agencies/{agency}/disable", idw.RequireStaff(adminOf, h.disable))
	s.Handle("POST /console/plugins/{id}/remove", idw.RequireStaff(platformAdmin, h.remove))
	return nil
}

// pluginURL is a plug-in's page.
func pluginURL(id string) string { return "/console/plugins/" + url.PathEscape(id) }

// useURL is the page where an agency enables or disables a plug-in.
func useURL(id, agency string) string {
	return pluginURL(id) + "/agencies/" + url.PathEscape(agency)
}

// text picks a manifest text in the page's language.
func text(p *web.Page, t plugin.Text) string {
	if p.Lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// agencyName names an agency in the page's language (its id when unknown).
func (h *Handlers) agencyName(ctx context.Context, p *web.Page, id string) string {
	ag, err := h.agencies.Agency(ctx, id)
	if err != nil {
		return id
	}
	if p.Lang == "es" && ag.NameES != "" {
		return ag.NameES
	}
	return ag.Name
}

// serviceTitle names a service in the page's language (its id when unknown).
func (h *Handlers) serviceTitle(ctx context.Context, p *web.Page, id string) string {
	if id == plugin.AllServices {
		return p.T("pluginconsole.service.all")
	}
	s, err := h.catalog.Latest(ctx, id)
	if err != nil || s.Manifest == nil {
		return id
	}
	if p.Lang == "es" && s.Manifest.Title.ES != "" {
		return s.Manifest.Title.ES
	}
	return s.Manifest.Title.EN
}

// dataWords says a datum of the plug-in vocabulary in words.
func (h *Handlers) dataWords(ctx context.Context, p *web.Page, d string) string {
	if svc, ok := strings.CutPrefix(d, plugin.DataAnswers); ok {
		return p.T("pluginconsole.data.answers", h.serviceTitle(ctx, p, svc))
	}
	return p.T("pluginconsole.data." + d)
}

// dataList says data in words, joined; "none" when empty.
func (h *Handlers) dataList(ctx context.Context, p *web.Page, data []string) string {
	if len(data) == 0 {
		return p.T("pluginconsole.data.none")
	}
	words := make([]string, len(data))
	for i, d := range data {
		words[i] = h.dataWords(ctx, p, d)
	}
	return strings.Join(words, p.T("console.list.separator"))
}

// fail shows err: a client's mistake as its page, anything else as a
// server error.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.web.Error(w, r, err)
}
