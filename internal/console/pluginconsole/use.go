package pluginconsole

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/web"
)

// choice is a checkbox or option of the enable form.
type choice struct {
	Value, Label, ID string
	Checked          bool
}

// useView is an agency's use of a plug-in and the form that changes it.
type useView struct {
	Plugin, PluginName, PluginURL string
	Agency, AgencyName            string
	Status, StatusText            string // "" when never enabled
	Approved                      string // approved data, in words
	Rights                        []string
	Data                          []choice // what the plug-in asks for
	Services                      []choice // every service, then the agency's services
	Operations                    []choice
	EnableURL, DisableURL         string
	CanDisable                    bool
}

// chosen is what the enable form sent (kept on a refusal).
type chosen struct {
	data, ops []string
	service   string
}

func (h *Handlers) use(w http.ResponseWriter, r *http.Request) {
	h.usePage(w, r, http.StatusOK, nil, nil)
}

// usePage shows the page; with c, the form shows what was chosen.
func (h *Handlers) usePage(w http.ResponseWriter, r *http.Request, status int, c *chosen, errs []web.FieldError) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	p := h.web.Renderer().NewPage(r, nil)
	pl, err := h.registry.Get(ctx, actor, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	agency := r.PathValue("agency")
	ag, err := h.agencies.Agency(ctx, agency)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	services, err := h.catalog.List(ctx, agency)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := useView{Plugin: pl.ID, PluginName: text(p, pl.Name), PluginURL: pluginURL(pl.ID), Agency: agency, AgencyName: ag.Name,
		EnableURL: useURL(pl.ID, agency) + "/enable", DisableURL: useURL(pl.ID, agency) + "/disable"}
	if p.Lang == "es" && ag.NameES != "" {
		v.AgencyName = ag.NameES
	}
	var current *plugin.Enablement
	for i, e := range pl.Enablements {
		if e.Agency == agency {
			current = &pl.Enablements[i]
			v.Status, v.StatusText, v.Approved = e.Status, p.T("pluginconsole.status."+e.Status), h.dataList(ctx, p, inOrder(e.Data, pl.Data))
			v.CanDisable = e.Status != plugin.StatusDisabled
		}
	}
	// What the form starts from: what was sent, else the approval and
	// the every-service rights in force, else everything the plug-in
	// asks for.
	if c == nil {
		c = &chosen{data: pl.Data, service: plugin.AllServices}
		if current != nil {
			c.data = current.Data
		}
		for _, s := range rightsByService(pl.Access, agency) {
			if s.service == plugin.AllServices {
				c.ops = s.ops
			}
		}
	}
	for _, s := range rightsByService(pl.Access, agency) {
		v.Rights = append(v.Rights, p.T("pluginconsole.right", h.serviceTitle(ctx, p, s.service), joinOps(p, s.ops)))
	}
	for i, d := range pl.Data {
		v.Data = append(v.Data, choice{Value: d, Label: h.dataWords(ctx, p, d), ID: "data-" + strconv.Itoa(i), Checked: slices.Contains(c.data, d)})
	}
	v.Services = append(v.Services, choice{Value: plugin.AllServices, Label: p.T("pluginconsole.service.all"), Checked: c.service == plugin.AllServices})
	for _, s := range services {
		label := s.ID
		if s.Manifest != nil {
			label = s.Manifest.Title.EN
			if p.Lang == "es" && s.Manifest.Title.ES != "" {
				label = s.Manifest.Title.ES
			}
		}
		v.Services = append(v.Services, choice{Value: s.ID, Label: label, Checked: c.service == s.ID})
	}
	for i, o := range pl.Operations {
		v.Operations = append(v.Operations, choice{Value: o.ID, Label: o.Method + " " + o.Path, ID: "op-" + strconv.Itoa(i), Checked: slices.Contains(c.ops, o.ID)})
	}
	p.Data = v
	p.Errors = errs
	h.web.Page(w, r, status, "console_plugin_use", p)
}

// enable enables the plug-in for the agency with the data approved and
// the rights granted on the form. The registry decides (an administrator
// of that agency, or a platform administrator), checks the data and
// operations against the manifest and audits it; the page checks first
// what only it knows: that the service is one of the agency's.
func (h *Handlers) enable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.web.ErrorPage(w, r, http.StatusBadRequest)
		return
	}
	c := &chosen{data: r.PostForm["data"], ops: r.PostForm["operation"], service: r.PostFormValue("service")}
	id, agency := r.PathValue("id"), r.PathValue("agency")
	p := h.web.Renderer().NewPage(r, nil)
	bad := func(field, message string) {
		h.usePage(w, r, http.StatusUnprocessableEntity, c, []web.FieldError{{Field: field, Message: message}})
	}
	if c.service == "" {
		c.service = plugin.AllServices
	}
	if c.service != plugin.AllServices {
		services, err := h.catalog.List(ctx, agency)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !slices.ContainsFunc(services, func(s catalog.Published) bool { return s.ID == c.service }) {
			bad("service", p.T("pluginconsole.use.badservice"))
			return
		}
	}
	_, err := h.registry.Enable(ctx, platform.ActorFrom(ctx), plugin.EnableRequest{Plugin: id, Agency: agency, Data: c.data, Service: c.service, Operations: c.ops})
	if err != nil {
		var pe *platform.Error
		if platform.ErrorCode(err) == platform.CodeInvalid && errors.As(err, &pe) {
			switch pe.Field {
			case "data":
				bad("data", p.T("pluginconsole.use.baddata"))
				return
			case "operation":
				bad("operations", p.T("pluginconsole.use.badoperation"))
				return
			case "service":
				bad("service", p.T("pluginconsole.use.badservice"))
				return
			}
		}
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, pluginURL(id)+"?"+url.Values{"done": {"enabled"}, "agency": {agency}}.Encode(), http.StatusSeeOther)
}

// disable stops the agency's use of the plug-in (the registry decides
// and audits; approval and rights are kept as history).
func (h *Handlers) disable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, agency := r.PathValue("id"), r.PathValue("agency")
	if _, err := h.registry.Disable(ctx, platform.ActorFrom(ctx), id, agency); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, pluginURL(id)+"?"+url.Values{"done": {"disabled"}, "agency": {agency}}.Encode(), http.StatusSeeOther)
}
