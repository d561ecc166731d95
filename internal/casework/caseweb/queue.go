package caseweb

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
)

type option struct {
	Value, Label string
	Selected     bool
}

type queueRow struct {
	ID, Reference, Service, State, SLA, SLAKey, Due, Assignee, Waiting string
}

type queueView struct {
	Rows                                     []queueRow
	Services, States, SLAs, Assignees, Sorts []option
	Closed                                   bool
	Total, Page, Pages                       int
	PrevURL, NextURL                         string
	PageLinks                                []pageLink
	NoAgencies                               bool
}

type pageLink struct {
	N       int
	URL     string
	Current bool
}

func (h *Handlers) queue(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	ctx, lg := r.Context(), lang(r)
	p := h.web.Renderer().NewPage(r, nil)
	var agencies []string
	for _, m := range a.Memberships {
		if !slices.Contains(agencies, m.AgencyID) {
			agencies = append(agencies, m.AgencyID)
		}
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 || page > 100000 {
		page = 1
	}
	f := casework.QueueFilter{Agencies: agencies, Service: q.Get("service"), State: q.Get("state"), SLA: q.Get("sla"),
		Closed: q.Get("status") == "closed", Desc: q.Get("sort") == "due_desc", Page: page, PerPage: 25}
	switch q.Get("assignee") {
	case "me":
		f.Assignee = a.ID
	case "none":
		f.Assignee = "none"
	}
	if !slices.Contains([]string{"", casework.SLAOnTime, casework.SLADueSoon, casework.SLAOverdue}, f.SLA) {
		f.SLA = ""
	}
	// The services of the staff member's agencies, for the filter and for
	// titles; states are offered for the chosen service.
	titles := map[string]string{}
	manifests := map[string]*manifest.Manifest{}
	v := queueView{NoAgencies: len(agencies) == 0, Closed: f.Closed}
	v.Services = append(v.Services, option{Value: "", Label: p.T("case.filter.any")})
	for _, ag := range agencies {
		list, err := h.cat.List(ctx, ag)
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		for _, s := range list {
			titles[s.ID] = tr(s.Manifest.Title, lg)
			manifests[s.ID] = s.Manifest
			v.Services = append(v.Services, option{Value: s.ID, Label: titles[s.ID], Selected: s.ID == f.Service})
		}
	}
	if _, ok := manifests[f.Service]; !ok {
		f.Service = ""
	}
	v.States = append(v.States, option{Value: "", Label: p.T("case.filter.any")})
	if m := manifests[f.Service]; m != nil {
		var ids []string
		for id := range m.Workflow.States {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			v.States = append(v.States, option{Value: id, Label: tr(m.Workflow.States[id].Title, lg), Selected: id == f.State})
		}
	} else {
		f.State = "" // a state means something only within a service
	}
	for _, s := range []string{"", casework.SLAOnTime, casework.SLADueSoon, casework.SLAOverdue} {
		label := p.T("case.filter.any")
		if s != "" {
			label = p.T("case.sla." + s)
		}
		v.SLAs = append(v.SLAs, option{Value: s, Label: label, Selected: s == f.SLA})
	}
	for _, s := range []string{"", "me", "none"} {
		key := map[string]string{"": "case.filter.any", "me": "case.filter.me", "none": "case.filter.none"}[s]
		v.Assignees = append(v.Assignees, option{Value: s, Label: p.T(key), Selected: s == q.Get("assignee")})
	}
	for _, s := range []string{"due", "due_desc"} {
		v.Sorts = append(v.Sorts, option{Value: s, Label: p.T("case.sort." + s), Selected: s == q.Get("sort") || s == "due" && q.Get("sort") == ""})
	}
	res, err := h.cases.QueueFor(ctx, platform.ActorFrom(ctx), f)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	names := h.memberNames(ctx, agencies)
	now := h.cases.Now()
	for _, c := range res.Cases {
		row := queueRow{ID: c.ID, Reference: c.Reference, Service: titles[c.ServiceID], State: c.State, Due: when(p, c.SLADueAt),
			Assignee: names[c.Assignee], Waiting: p.T("case.waiting." + c.WaitingOn)}
		if row.Service == "" {
			row.Service = c.ServiceID
		}
		if m := manifests[c.ServiceID]; m != nil {
			if st, ok := m.Workflow.States[c.State]; ok {
				row.State = tr(st.Title, lg)
			}
		}
		row.SLAKey = casework.SLAStatus(c, now)
		row.SLA = p.T("case.sla." + row.SLAKey)
		if c.Assignee != "" && row.Assignee == "" {
			row.Assignee = c.Assignee
		}
		v.Rows = append(v.Rows, row)
	}
	v.Total, v.Page, v.Pages = res.Total, res.Page, res.Pages
	link := func(n int) string {
		qq := url.Values{}
		for k, vs := range q {
			if k != "page" && k != "lang" && len(vs) > 0 && vs[0] != "" {
				qq.Set(k, vs[0])
			}
		}
		qq.Set("page", strconv.Itoa(n))
		return "/console/cases?" + qq.Encode()
	}
	if v.Page > 1 {
		v.PrevURL = link(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.NextURL = link(v.Page + 1)
	}
	for n := max(1, v.Page-3); n <= min(v.Pages, v.Page+3); n++ {
		v.PageLinks = append(v.PageLinks, pageLink{N: n, URL: link(n), Current: n == v.Page})
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "case_queue", p)
}

// memberNames maps account ids of the agencies' staff to their names.
func (h *Handlers) memberNames(ctx context.Context, agencies []string) map[string]string {
	out := map[string]string{}
	for _, ag := range agencies {
		ms, err := h.staff.AgencyMembers(ctx, ag)
		if err != nil {
			continue // names are a courtesy: ids still show
		}
		for _, m := range ms {
			out[m.AccountID] = m.LegalName
		}
	}
	return out
}
