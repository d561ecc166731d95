// Package webhookweb is the webhook block's console page: a plug-in's
// recent event deliveries, its 410 stops and dead letters, with Replay
// (/console/plugins/{id}/deliveries). The block decides who may see and
// replay what (platform administrators; administrators of agencies that
// enabled the plug-in, for their agencies); others get not-found.
package webhookweb

import (
	"context"
	"embed"
	"net/http"
	"net/url"
	"strconv"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
	"github.com/portico-gov/portico/internal/webhook"
)

//go:embed templates/*.html
var templates embed.FS

// Deliveries is what the page needs of the block.
type Deliveries interface {
	List(ctx context.Context, actor platform.Actor, pluginID string, dead bool) (*webhook.Overview, error)
	Replay(ctx context.Context, actor platform.Actor, pluginID string, req webhook.ReplayRequest) ([]webhook.Delivery, error)
}

// Plugins names the plug-in in the heading: administrators know it by
// the name the catalogue shows, not by its id.
type Plugins interface {
	Get(ctx context.Context, actor platform.Actor, id string) (*plugin.Plugin, error)
}

// Agencies names the agency of each delivery and stop.
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

type handlers struct {
	web      *web.Server
	svc      Deliveries
	plugins  Plugins
	agencies Agencies
}

// Register adds the page and its Replay action.
func Register(s *web.Server, idw *identityweb.Handlers, svc Deliveries, plugins Plugins, agencies Agencies) error {
	if err := platform.Required("webhookweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "identity pages", Missing: idw == nil},
		platform.Dep{Name: "deliveries", Missing: svc == nil},
		platform.Dep{Name: "plug-in registry", Missing: plugins == nil},
		platform.Dep{Name: "agencies", Missing: agencies == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &handlers{web: s, svc: svc, plugins: plugins, agencies: agencies}
	staff := func(*http.Request, *identity.Account) bool { return true } // the block decides
	s.Handle("GET /console/plugins/{id}/deliveries", idw.RequireStaff(staff, h.list))
	s.Handle("POST /console/plugins/{id}/deliveries/replay", idw.RequireStaff(staff, h.replay))
	return nil
}

// view is the page's data.
type view struct {
	Plugin   string // the id, for the page's links and forms
	Name     string // the plug-in's name in the page's language
	Overview *webhook.Overview
	Agencies map[string]string // agency id → name in the page's language
	Dead     bool              // only dead letters
	Replayed int64             // after a replay: how many were queued (-1: none)
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	h.show(w, r, http.StatusOK, -1, nil)
}

func (h *handlers) show(w http.ResponseWriter, r *http.Request, status int, replayed int64, problem error) {
	id := r.PathValue("id")
	dead := r.URL.Query().Get("dead") == "1"
	if replayed < 0 {
		if n, err := strconv.ParseInt(r.URL.Query().Get("replayed"), 10, 64); err == nil && n >= 0 {
			replayed = n
		}
	}
	ov, err := h.svc.List(r.Context(), platform.ActorFrom(r.Context()), id, dead)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	v := view{Plugin: id, Name: h.pluginName(r, p, id), Overview: ov, Agencies: map[string]string{}, Dead: dead, Replayed: replayed}
	for _, d := range ov.Deliveries {
		v.Agencies[d.Agency] = h.agencyName(r, p, d.Agency)
	}
	for _, st := range ov.Stops {
		v.Agencies[st.Agency] = h.agencyName(r, p, st.Agency)
	}
	p.Data = v
	if problem != nil {
		key := "webhook.error.replay"
		if platform.ErrorCode(problem) == platform.CodeConflict {
			key = "webhook.error.pending"
		}
		p.Errors = append(p.Errors, web.FieldError{Field: "deliveries", Message: p.T(key)})
	}
	h.web.Page(w, r, status, "webhook_deliveries", p)
}

// pluginName is the plug-in's name in the page's language; its id when
// the registry cannot say (List has already decided the reader may see
// the page, so this only names it).
func (h *handlers) pluginName(r *http.Request, p *web.Page, id string) string {
	pl, err := h.plugins.Get(r.Context(), platform.ActorFrom(r.Context()), id)
	switch {
	case err != nil:
		return id
	case p.Lang == "es" && pl.Name.ES != "":
		return pl.Name.ES
	case pl.Name.EN != "":
		return pl.Name.EN
	}
	return id
}

// agencyName names an agency in the page's language (its id when unknown).
func (h *handlers) agencyName(r *http.Request, p *web.Page, id string) string {
	ag, err := h.agencies.Agency(r.Context(), id)
	if err != nil {
		return id
	}
	if p.Lang == "es" && ag.NameES != "" {
		return ag.NameES
	}
	return ag.Name
}

// fail answers a refusal with not-found: staff pages do not say what
// exists to those who may not see it.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch platform.ErrorCode(err) {
	case platform.CodeForbidden, platform.CodeUnauthorized, platform.CodeNotFound:
		h.web.ErrorPage(w, r, http.StatusNotFound)
	default:
		h.web.Error(w, r, err)
	}
}

func (h *handlers) replay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req := webhook.ReplayRequest{Delivery: r.PostFormValue("delivery"), AllDead: r.PostFormValue("all") == "dead"}
	if req.AllDead {
		req.Delivery = ""
	}
	ds, err := h.svc.Replay(r.Context(), platform.ActorFrom(r.Context()), id, req)
	switch platform.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/console/plugins/"+url.PathEscape(id)+"/deliveries?replayed="+strconv.Itoa(len(ds)), http.StatusSeeOther)
	case platform.CodeForbidden, platform.CodeUnauthorized:
		h.web.ErrorPage(w, r, http.StatusNotFound)
	case platform.CodeInvalid, platform.CodeConflict, platform.CodeNotFound:
		// A stale page (the delivery is pending again, or gone) or a
		// tampered form: show the list as it is now, with why.
		if _, lerr := h.svc.List(r.Context(), platform.ActorFrom(r.Context()), id, false); lerr != nil {
			h.fail(w, r, lerr)
			return
		}
		h.show(w, r, http.StatusUnprocessableEntity, -1, err)
	default:
		h.web.Error(w, r, err)
	}
}
