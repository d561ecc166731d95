package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/casework/caseweb"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// homeView is a staff member's home: their agencies' work, and for a
// platform administrator every agency's counts.
type homeView struct {
	Account *identity.Account
	Mine    []agencyHome // agencies the staff member holds a role in
	All     []agencyHome // every agency (platform administrators)
}

// agencyHome is one agency's work as the home shows it.
type agencyHome struct {
	ID, Name        string
	Roles           string // the viewer's roles there, translated
	Open, Overdue   int
	OpenText        string // "3 open cases"
	OverdueText     string // "1 case past its time limit"
	QueueURL        string // its open cases (staff of the agency)
	OverdueURL      string
	Queues          []queueHome
	Recent          []activityHome
	Member          bool // the viewer holds a role there
	AgencyURL       string
	QueueCaption    string
	RecentHeadingID string
	QueuesHeadingID string
	AgencyHeadingID string
}

type queueHome struct {
	Service, State string
	Open, Overdue  int
	URL            string // the queue filtered to this service and state
}

type activityHome struct {
	Reference, URL, Text, Who, When string
}

// home is the console's front page. The casework block works out what the
// staff member may see (Overview: their agencies in full; for a platform
// administrator, every agency's counts) and audits it.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	_, a := identityweb.Current(r)
	ctx := r.Context()
	p := c.web.Renderer().NewPage(r, nil)
	var all []string
	if a.PlatformAdmin {
		list, err := c.agencies.Agencies(ctx, "")
		if err != nil {
			c.web.Error(w, r, err)
			return
		}
		for _, ag := range list {
			all = append(all, ag.ID)
		}
	}
	actor := platform.ActorFrom(ctx)
	overview, err := c.cases.Overview(ctx, actor, all)
	if err != nil {
		c.web.Error(w, r, err)
		return
	}
	v := homeView{Account: a}
	mine := actor.Agencies()
	for _, o := range overview {
		member := slices.Contains(mine, o.AgencyID)
		h, err := c.agencyHome(ctx, p, a, o, member)
		if err != nil {
			c.web.Error(w, r, err)
			return
		}
		if member {
			v.Mine = append(v.Mine, h)
		}
		if a.PlatformAdmin {
			v.All = append(v.All, h)
		}
	}
	p.Data = v
	c.web.Page(w, r, http.StatusOK, "console_home", p)
}

// agencyHome lays out one agency's overview in the page's language.
func (c *Console) agencyHome(ctx context.Context, p *web.Page, a *identity.Account, o casework.AgencyOverview, member bool) (agencyHome, error) {
	lg := string(p.Lang)
	h := agencyHome{ID: o.AgencyID, Name: caseweb.AgencyName(ctx, c.agencies, p, o.AgencyID), Open: o.Open, Overdue: o.Overdue,
		OpenText: p.N("console.home.open", int64(o.Open)), OverdueText: p.N("console.home.overdue", int64(o.Overdue)),
		Member: member, AgencyURL: "/console/agencies/" + url.PathEscape(o.AgencyID),
		AgencyHeadingID: "agency-" + o.AgencyID, QueuesHeadingID: "queues-" + o.AgencyID, RecentHeadingID: "recent-" + o.AgencyID}
	h.QueueCaption = p.T("console.home.queues.caption", h.Name)
	var roles []string
	for _, m := range a.Memberships {
		if m.AgencyID == o.AgencyID {
			roles = append(roles, p.T("role."+string(m.Role)))
		}
	}
	h.Roles = joinList(p, roles)
	if !member {
		return h, nil
	}
	h.QueueURL = "/console/cases"
	h.OverdueURL = "/console/cases?sla=" + casework.SLAOverdue
	services, err := c.catalog.List(ctx, o.AgencyID)
	if err != nil {
		return h, err
	}
	manifests := map[string]*manifest.Manifest{}
	for _, s := range services {
		manifests[s.ID] = s.Manifest
	}
	for _, q := range o.Queues {
		qh := queueHome{Service: q.ServiceID, State: q.State, Open: q.Open, Overdue: q.Overdue,
			URL: "/console/cases?" + url.Values{"service": {q.ServiceID}, "state": {q.State}}.Encode()}
		if m := manifests[q.ServiceID]; m != nil {
			qh.Service = tr(m.Title, lg)
			if st, ok := m.Workflow.States[q.State]; ok {
				qh.State = tr(st.Title, lg)
			}
		}
		h.Queues = append(h.Queues, qh)
	}
	for _, act := range o.Recent {
		wf, err := c.cases.Workflow(ctx, act.Case)
		if err != nil {
			return h, err
		}
		h.Recent = append(h.Recent, activityHome{Reference: act.Case.Reference, URL: "/console/cases/" + url.PathEscape(act.Case.ID),
			Text: caseweb.EntryText(p, wf.Manifest, act.Entry), Who: caseweb.WhoLabel(p, act.Entry.By, true, h.Name),
			When: p.DateTime(act.Entry.At)})
	}
	return h, nil
}

// tr picks a manifest text in lang.
func tr(t manifest.Text, lang string) string {
	if lang == "es" && t.ES != "" {
		return t.ES
	}
	return t.EN
}

// joinList joins names with the language's list separator.
func joinList(p *web.Page, items []string) string {
	out := ""
	for i, s := range items {
		if i > 0 {
			out += p.T("console.list.separator")
		}
		out += s
	}
	return out
}
