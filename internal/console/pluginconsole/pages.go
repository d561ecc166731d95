package pluginconsole

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/web"
)

// providerView is who offers a plug-in.
type providerView struct {
	Name    string
	URL     string // the agency's page, or the private provider's website
	Private bool
	Email   string
}

// usingView is one agency's use of a plug-in.
type usingView struct {
	Agency, Name string
	Status       string // plugin.Status…
	StatusText   string
	Data         string   // approved data, in words
	Rights       []string // "Vehicle registration renewal: find-vehicle, record-renewal"
	ManageURL    string   // the viewer may enable or disable it for this agency
}

// healthView is a plug-in's health in words.
type healthView struct {
	Circuit     string // gateway.Circuit…
	CircuitText string
	Calls       string // "12 calls in the last 24 hours"
	Failures    string // "2 failed (17%)", "" with no calls
	Trouble     bool   // the circuit is not closed or a call failed
}

// pluginRow is a plug-in in the catalogue.
type pluginRow struct {
	ID, Name, URL string
	Provider      providerView
	Data          string
	Using         []usingView
	Health        healthView
}

type listView struct {
	Plugins []pluginRow
	Removed bool // a plug-in was just removed
}

func (h *Handlers) provider(ctx context.Context, p *web.Page, pr plugin.Provider) providerView {
	if pr.Private() {
		return providerView{Name: pr.Name, URL: pr.Website, Private: true, Email: pr.Email}
	}
	return providerView{Name: h.agencyName(ctx, p, pr.Agency), URL: "/agencies/" + url.PathEscape(pr.Agency)}
}

func (h *Handlers) health(ctx context.Context, p *web.Page, actor platform.Actor, id string) (healthView, error) {
	hl, err := h.gateway.Health(ctx, actor, id)
	if err != nil {
		return healthView{}, err
	}
	v := healthView{Circuit: hl.Circuit, CircuitText: p.T("pluginconsole.circuit." + hl.Circuit),
		Calls: p.N("pluginconsole.health.calls", int64(hl.Calls)), Trouble: hl.Circuit != gateway.CircuitClosed || hl.Failed > 0}
	if hl.Sampled > 0 {
		pct := int64(hl.FailureRate()*100 + 0.5)
		if hl.Sampled < hl.Calls {
			v.Failures = p.T("pluginconsole.health.failedlatest", pct, hl.Sampled)
		} else {
			v.Failures = p.N("pluginconsole.health.failed", int64(hl.Failed), hl.Failed, pct)
		}
	}
	return v, nil
}

func (h *Handlers) using(ctx context.Context, p *web.Page, a *identity.Account, pl *plugin.Plugin) []usingView {
	var out []usingView
	for _, e := range pl.Enablements {
		u := usingView{Agency: e.Agency, Name: h.agencyName(ctx, p, e.Agency), Status: e.Status, StatusText: p.T("pluginconsole.status." + e.Status),
			Data: h.dataList(ctx, p, inOrder(e.Data, pl.Data))}
		if a.PlatformAdmin || a.HasRole(e.Agency, identity.AgencyAdmin) {
			u.ManageURL = useURL(pl.ID, e.Agency)
		}
		for _, svc := range rightsByService(pl.Access, e.Agency) {
			u.Rights = append(u.Rights, p.T("pluginconsole.right", h.serviceTitle(ctx, p, svc.service), joinOps(p, svc.ops)))
		}
		out = append(out, u)
	}
	return out
}

// inOrder puts data in the order the plug-in asks for them (the registry
// keeps an approval sorted).
func inOrder(data, asked []string) []string {
	out := slices.Clone(data)
	slices.SortStableFunc(out, func(a, b string) int {
		i, j := slices.Index(asked, a), slices.Index(asked, b)
		if i < 0 {
			i = len(asked)
		}
		if j < 0 {
			j = len(asked)
		}
		return i - j
	})
	return out
}

type serviceOps struct {
	service string
	ops     []string
}

// rightsByService groups an agency's access rights by service, in order.
func rightsByService(rights []plugin.AccessRight, agency string) []serviceOps {
	var out []serviceOps
	for _, r := range rights {
		if r.Agency != agency {
			continue
		}
		i := slices.IndexFunc(out, func(s serviceOps) bool { return s.service == r.Service })
		if i < 0 {
			out = append(out, serviceOps{service: r.Service})
			i = len(out) - 1
		}
		out[i].ops = append(out[i].ops, r.Operation)
	}
	return out
}

func joinOps(p *web.Page, ops []string) string {
	out := ""
	for i, o := range ops {
		if i > 0 {
			out += p.T("console.list.separator")
		}
		out += o
	}
	return out
}

// list is the catalogue.
func (h *Handlers) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, a := identityweb.Current(r)
	actor := platform.ActorFrom(ctx)
	p := h.web.Renderer().NewPage(r, nil)
	plugins, err := h.registry.List(ctx, actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := listView{}
	v.Removed = r.URL.Query().Get("removed") == "1"
	for i := range plugins {
		pl := &plugins[i]
		row := pluginRow{ID: pl.ID, Name: text(p, pl.Name), URL: pluginURL(pl.ID), Provider: h.provider(ctx, p, pl.Provider),
			Data: h.dataList(ctx, p, pl.Data), Using: h.using(ctx, p, a, pl)}
		if row.Health, err = h.health(ctx, p, actor, pl.ID); err != nil {
			h.fail(w, r, err)
			return
		}
		v.Plugins = append(v.Plugins, row)
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "console_plugins", p)
}

// operationView is one operation on a plug-in's page.
type operationView struct {
	ID, Method, Path, Retried, Timeout string
}

// exchangeView is one failed exchange on a plug-in's page.
type exchangeView struct {
	When, Agency, Service, Operation, Outcome, Status, Duration string
}

// agencyOption is an agency the viewer may enable the plug-in for: in the
// platform administrator's list (ID), or as a link (URL).
type agencyOption struct{ ID, Name, URL string }

type detailView struct {
	ID, Name, Description, Version string
	Revision                       int
	Registered, Updated            string
	Provider                       providerView
	Health                         healthView
	Operations                     []operationView
	Data                           []string // in words
	Events                         []string
	Webhook                        string
	Using                          []usingView
	Errors                         []exchangeView
	DeliveriesURL                  string
	// Mine are the viewer's own agencies they may enable it for (agency
	// administrators); Agencies every agency (platform administrators).
	Mine      []agencyOption
	Agencies  []agencyOption
	CanRemove bool
	Force     bool   // what was chosen on a refused removal
	Done      string // "enabled", "disabled" after an action
	DoneFor   string // the agency's name
}

func (h *Handlers) detail(w http.ResponseWriter, r *http.Request) {
	h.detailPage(w, r, http.StatusOK, false, nil)
}

func (h *Handlers) detailPage(w http.ResponseWriter, r *http.Request, status int, force bool, errs []web.FieldError) {
	ctx := r.Context()
	_, a := identityweb.Current(r)
	actor := platform.ActorFrom(ctx)
	p := h.web.Renderer().NewPage(r, nil)
	pl, err := h.registry.Get(ctx, actor, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := detailView{ID: pl.ID, Name: text(p, pl.Name), Version: pl.Version, Revision: pl.Revision,
		Registered: p.Date(pl.RegisteredAt), Updated: p.Date(pl.UpdatedAt), Provider: h.provider(ctx, p, pl.Provider),
		Events: pl.Events, Webhook: pl.Webhook, Using: h.using(ctx, p, a, pl), DeliveriesURL: pluginURL(pl.ID) + "/deliveries",
		CanRemove: a.PlatformAdmin, Force: force}
	if pl.Manifest != nil && pl.Manifest.Description != nil {
		v.Description = text(p, *pl.Manifest.Description)
	}
	for _, d := range pl.Data {
		v.Data = append(v.Data, h.dataWords(ctx, p, d))
	}
	for _, o := range pl.Operations {
		ov := operationView{ID: o.ID, Method: o.Method, Path: o.Path, Retried: p.T("console.no"), Timeout: duration(p, o.TimeoutDuration())}
		if o.Idempotent {
			ov.Retried = p.T("console.yes")
		}
		v.Operations = append(v.Operations, ov)
	}
	if v.Health, err = h.health(ctx, p, actor, pl.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	xs, err := h.gateway.RecentErrors(ctx, actor, pl.ID, RecentErrorsShown)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, x := range xs {
		ev := exchangeView{When: p.DateTime(x.At), Agency: h.agencyName(ctx, p, x.Agency), Service: h.serviceTitle(ctx, p, x.Service),
			Operation: x.Operation, Outcome: p.T("pluginconsole.outcome." + x.Outcome), Status: "—", Duration: duration(p, x.Duration)}
		if x.Status != 0 {
			ev.Status = fmt.Sprint(x.Status)
		}
		if x.Outcome == gateway.OutcomeRefused {
			ev.Duration = "—"
		}
		v.Errors = append(v.Errors, ev)
	}
	if a.PlatformAdmin {
		all, err := h.agencies.Agencies(ctx, "")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, ag := range all {
			name := ag.Name
			if p.Lang == "es" && ag.NameES != "" {
				name = ag.NameES
			}
			v.Agencies = append(v.Agencies, agencyOption{ID: ag.ID, Name: name})
		}
	} else {
		for _, m := range a.Memberships {
			if m.Role == identity.AgencyAdmin {
				v.Mine = append(v.Mine, agencyOption{ID: m.AgencyID, Name: h.agencyName(ctx, p, m.AgencyID), URL: useURL(pl.ID, m.AgencyID)})
			}
		}
	}
	q := r.URL.Query()
	if done := q.Get("done"); done == "enabled" || done == "disabled" {
		if ag := q.Get("agency"); slices.ContainsFunc(pl.Enablements, func(e plugin.Enablement) bool { return e.Agency == ag }) {
			v.Done, v.DoneFor = done, h.agencyName(ctx, p, ag)
		}
	}
	p.Data = v
	p.Errors = errs
	h.web.Page(w, r, status, "console_plugin", p)
}

// duration says a duration in words: milliseconds under a second.
func duration(p *web.Page, d time.Duration) string {
	if d < time.Second {
		return p.N("pluginconsole.ms", d.Milliseconds())
	}
	if d%time.Second == 0 {
		return p.N("pluginconsole.seconds", int64(d/time.Second))
	}
	return p.N("pluginconsole.ms", d.Milliseconds())
}

// chooseAgency takes a platform administrator from the plug-in's page to
// the page of the agency they picked.
func (h *Handlers) chooseAgency(w http.ResponseWriter, r *http.Request) {
	ag := r.URL.Query().Get("agency")
	if ag == "" {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	if _, err := h.agencies.Agency(r.Context(), ag); err != nil {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	http.Redirect(w, r, useURL(r.PathValue("id"), ag), http.StatusSeeOther)
}

// remove removes a plug-in (platform administrators; the registry
// decides and audits). Agencies still using it need "force".
func (h *Handlers) remove(w http.ResponseWriter, r *http.Request) {
	force := r.PostFormValue("force") == "yes"
	id := r.PathValue("id")
	err := h.registry.Remove(r.Context(), platform.ActorFrom(r.Context()), id, force)
	if err != nil {
		if platform.ErrorCode(err) != platform.CodeConflict {
			h.fail(w, r, err)
			return
		}
		p := h.web.Renderer().NewPage(r, nil)
		h.detailPage(w, r, http.StatusConflict, force, []web.FieldError{{Field: "force", Message: p.T("pluginconsole.remove.inuse")}})
		return
	}
	http.Redirect(w, r, "/console/plugins?removed=1", http.StatusSeeOther)
}
