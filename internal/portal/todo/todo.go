// Package todo is a signed-in person's home, /dashboard: their to-do list
// across every agency (what to pay, answer, renew, finish or do, soonest
// due first, each with its one action), what they applied for, the
// services they use and their latest messages.
//
// The page composes blocks through the small interfaces below. Each block
// decides who may read and audits its own read of the person's data; the
// page only maps errors and arranges what it is given.
package todo

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Applications is the applying block: the person's drafts (to finish)
// and sent applications (what they applied for). Audited there.
type Applications interface {
	DashboardPage(ctx context.Context, by platform.Actor, older string) (application.DashboardPage, error)
}

// Cases is the casework block: unpaid fees and unanswered requests of
// the person's open cases. Each read is audited there.
type Cases interface {
	Owing(ctx context.Context, by platform.Actor) ([]casework.Owed, error)
	AwaitingReply(ctx context.Context, by platform.Actor) ([]casework.Awaiting, error)
}

// Obligations is the reminder block: the person's open obligations
// (renewals, instalments, actions). Audited there.
type Obligations interface {
	List(ctx context.Context, by platform.Actor, all bool) ([]reminder.Obligation, error)
}

// Agencies is the tenancy block: an agency's name and how to reach its
// counter (public facts, not the person's).
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// Services is the catalog: a service's current title, for services the
// person holds an obligation from.
type Services interface {
	Latest(ctx context.Context, id string) (catalog.Published, error)
}

// Inbox is the notification block's in-app messages; nil shows none.
type Inbox interface {
	Inbox(ctx context.Context, by platform.Actor, limit int) ([]notify.Notification, error)
}

// Auth is the one "signed in" rule (*identityweb.Handlers).
type Auth interface {
	RequireSignedIn(fn http.HandlerFunc) http.Handler
}

// Blocks are the page's sources. All but Inbox are required.
type Blocks struct {
	Applications Applications
	Cases        Cases
	Obligations  Obligations
	Agencies     Agencies
	Services     Services
	Inbox        Inbox
	Clock        platform.Clock
}

// latestMessages is how many inbox messages the page shows.
const latestMessages = 3

type page struct {
	web *web.Server
	b   Blocks
}

// Register adds GET /dashboard to s.
func Register(s *web.Server, auth Auth, b Blocks) error {
	if err := platform.Required("todo",
		platform.Dep{Name: "applications", Missing: b.Applications == nil},
		platform.Dep{Name: "cases", Missing: b.Cases == nil},
		platform.Dep{Name: "obligations", Missing: b.Obligations == nil},
		platform.Dep{Name: "agencies", Missing: b.Agencies == nil},
		platform.Dep{Name: "services", Missing: b.Services == nil},
		platform.Dep{Name: "clock", Missing: b.Clock == nil},
		platform.Dep{Name: "auth", Missing: auth == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	p := &page{web: s, b: b}
	s.Handle("GET /dashboard", auth.RequireSignedIn(p.home))
	return nil
}

// view is the page.
type view struct {
	Items    []itemView
	Totals   []string       // "You owe $1,245.50 to 2 agencies", one per currency, when more than one amount is owed
	Payable  int64          // items payable online, all at once on /pay
	Applied  []appliedGroup // by kind of service: applications, reports, ... in order of the latest
	Services []serviceView
	Messages []messageView
	Saved    bool // back from "save and come back later"
	// SavedDown: saved while an agency's system the form needs was down
	// (the page that needed it was left as it was).
	SavedDown bool
	Withdrawn bool // a draft was deleted
	// WithdrawnService is the service of the deleted draft, for the
	// satisfaction survey's panel ("" when not known).
	WithdrawnService string
	// Older links to the next page of applications ("" on the last);
	// Paged says this page is not the first.
	Older string
	Paged bool
}

// serviceSlug is the shape of a service's id, checked before a link to
// the survey about it is shown.
var serviceSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

type itemView struct {
	Kind, Title, Agency, AgencyURL, Due, DueISO, Amount, Reference, URL, Action string
	Delete                                                                      string // a draft: its delete page
	PayURL                                                                      string // a Pay item payable online: the Pay page with it ticked
	Overdue, Today                                                              bool
	Counter                                                                     *counterView
	ID                                                                          string // for the accordion
}

// counterView is how to pay (or reach) an agency in person.
type counterView struct {
	Agency                   string
	Lines                    []string
	Phone, Hours, Email, Web string
	Tel                      template.URL // tel: and the digits of Phone
}

type appliedView struct {
	Title, URL, Reference, Sent, State string
	ActionNeeded                       bool
}

// appliedGroup is what the person sent of one kind of service, under its
// own heading ("Applications you sent", "Reports you sent").
type appliedGroup struct {
	Heading, ID string
	Lines       []appliedView
}

type serviceView struct{ Title, URL string }

type messageView struct {
	Subject, Sent string
	Unread        bool
}

func (p *page) home(w http.ResponseWriter, r *http.Request) {
	ctx, by := r.Context(), platform.ActorFrom(r.Context())
	var g Gathered
	var submitted []application.Summary
	var err error
	older := r.URL.Query().Get("older")
	apps, err := p.b.Applications.DashboardPage(ctx, by, older)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	g.Drafts, submitted = apps.Drafts, apps.Submitted
	if g.Owed, err = p.b.Cases.Owing(ctx, by); err != nil {
		p.web.Error(w, r, err)
		return
	}
	if g.Awaiting, err = p.b.Cases.AwaitingReply(ctx, by); err != nil {
		p.web.Error(w, r, err)
		return
	}
	if g.Obligations, err = p.b.Obligations.List(ctx, by, false); err != nil {
		p.web.Error(w, r, err)
		return
	}
	pg := p.web.Renderer().NewPage(r, nil)
	f := pg.Format()
	loc := f.Location()
	lang := string(pg.Lang)
	today := reminder.DateOf(p.b.Clock.Now().In(loc))
	agencies := agencyCache{b: p.b.Agencies, got: map[string]*tenancy.Agency{}}
	v := view{Saved: r.URL.Query().Get("saved") != "", SavedDown: r.URL.Query().Get("saved") != "" && r.URL.Query().Get("down") != "", Withdrawn: r.URL.Query().Get("withdrawn") != "", Paged: older != ""}
	if apps.Older != "" {
		v.Older = "/dashboard?older=" + url.QueryEscape(apps.Older) + "#applied"
	}
	if v.Withdrawn && serviceSlug.MatchString(r.URL.Query().Get("service")) {
		// The survey says "not found" itself for a slug that is not published.
		v.WithdrawnService = r.URL.Query().Get("service")
	}

	items := g.Items(loc)
	type owedTo struct {
		total    platform.Money
		agencies []string
	}
	var owed []*owedTo // per currency, in order of first appearance
	payments := 0
	for i, it := range items {
		iv := itemView{Kind: string(it.Kind), Title: it.Title.In(lang), Reference: it.Reference, URL: it.URL, ID: "todo-" + strconv.Itoa(i+1)}
		ag := agencies.get(ctx, it.AgencyID)
		if ag != nil {
			iv.Agency, iv.AgencyURL = agencyName(ag, lang), "/agencies/"+url.PathEscape(ag.ID)
		}
		if !it.Due.IsZero() {
			iv.Due, iv.DueISO = f.Day(it.Due.Year, it.Due.Month, it.Due.Day), it.Due.String()
			iv.Overdue, iv.Today = it.Due.Before(today), it.Due == today
		}
		if it.Amount != nil {
			iv.Amount = f.Money(*it.Amount)
			payments++
			var o *owedTo
			for _, x := range owed {
				if x.total.Currency == it.Amount.Currency {
					o = x
				}
			}
			if o == nil {
				o = &owedTo{total: platform.Money{Currency: it.Amount.Currency}}
				owed = append(owed, o)
			}
			if sum, err := o.total.Add(*it.Amount); err == nil {
				o.total = sum
			}
			if !slices.Contains(o.agencies, it.AgencyID) {
				o.agencies = append(o.agencies, it.AgencyID)
			}
		}
		switch it.Kind {
		case Pay:
			// Online on the Pay page when it takes the item; the counter
			// stays as the other way (and the only one when it does not).
			iv.Action = pg.T("todo.action.counter")
			iv.Counter = counterOf(ag, lang)
			if it.PayKey != "" {
				iv.PayURL = "/pay?item=" + url.QueryEscape(it.PayKey)
				v.Payable++
			}
		case Answer:
			iv.Action = pg.T("todo.action.answer")
		case Renew:
			iv.Action = pg.T("todo.action.renew")
		case Finish:
			iv.Action = pg.T("todo.action.finish")
			if strings.HasPrefix(it.URL, "/apply/") {
				iv.Delete = it.URL + "/withdraw"
			}
		default:
			iv.Action = pg.T("todo.action.see")
			if iv.URL == "" { // nothing to do online: how to reach the agency
				iv.Action = pg.T("todo.action.contact")
				iv.Counter = counterOf(ag, lang)
			}
		}
		if iv.URL == "" && iv.Counter == nil && iv.AgencyURL != "" {
			iv.URL = iv.AgencyURL
		}
		v.Items = append(v.Items, iv)
	}
	if payments > 1 {
		for _, o := range owed {
			v.Totals = append(v.Totals, pg.N("todo.owed.total", int64(len(o.agencies)), f.Money(o.total), len(o.agencies)))
		}
	}

	seen := map[string]bool{}
	addService := func(id string, title reminder.Text) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		v.Services = append(v.Services, serviceView{Title: title.In(lang), URL: "/services/" + url.PathEscape(id)})
	}
	groups := map[manifest.Kind]int{}
	for _, s := range submitted {
		gi, ok := groups[s.Kind]
		if !ok {
			gi = len(v.Applied)
			groups[s.Kind] = gi
			v.Applied = append(v.Applied, appliedGroup{Heading: pg.T(s.Kind.Key("dashboard.sent")), ID: "sent-" + string(s.Kind)})
		}
		av := appliedView{Title: reminder.Text(s.ServiceTitle).In(lang), URL: "/applications/" + url.PathEscape(s.App.ID), Reference: s.App.Reference,
			State: reminder.Text(s.StateTitle).In(lang), ActionNeeded: s.ActionNeeded}
		if s.App.SubmittedAt != nil {
			av.Sent = f.Date(*s.App.SubmittedAt)
		}
		v.Applied[gi].Lines = append(v.Applied[gi].Lines, av)
		addService(s.App.ServiceID, reminder.Text(s.ServiceTitle))
	}
	for _, d := range g.Drafts {
		addService(d.App.ServiceID, reminder.Text(d.ServiceTitle))
	}
	for _, o := range g.Obligations {
		// A renewal points at its service's start page.
		id, ok := strings.CutPrefix(o.URL, "/services/")
		if !ok || id == "" || strings.ContainsAny(id, "/?#") || seen[id] {
			continue
		}
		if svc, err := p.b.Services.Latest(ctx, id); err == nil && svc.Manifest != nil {
			addService(id, reminder.Text(svc.Manifest.Title))
		}
	}
	slices.SortStableFunc(v.Services, func(a, b serviceView) int { return strings.Compare(a.Title, b.Title) })

	if p.b.Inbox != nil {
		msgs, err := p.b.Inbox.Inbox(ctx, by, latestMessages)
		if err != nil {
			p.web.Error(w, r, err)
			return
		}
		for _, m := range msgs {
			v.Messages = append(v.Messages, messageView{Subject: m.Subject, Sent: f.Date(m.CreatedAt), Unread: m.ReadAt.IsZero()})
		}
	}
	pg.Data = v
	p.web.Page(w, r, http.StatusOK, "todo", pg)
}

// agencyCache reads each agency once per page.
type agencyCache struct {
	b   Agencies
	got map[string]*tenancy.Agency
}

func (c agencyCache) get(ctx context.Context, id string) *tenancy.Agency {
	if id == "" {
		return nil
	}
	if a, ok := c.got[id]; ok {
		return a
	}
	var out *tenancy.Agency
	if a, err := c.b.Agency(ctx, id); err == nil {
		out = &a
	}
	c.got[id] = out
	return out
}

func agencyName(a *tenancy.Agency, lang string) string {
	if lang == string(i18n.Spanish) && a.NameES != "" {
		return a.NameES
	}
	return a.Name
}

// counterOf is how to reach a's office, or nil when nothing is known.
func counterOf(a *tenancy.Agency, lang string) *counterView {
	if a == nil {
		return nil
	}
	c := a.Contact
	cv := &counterView{Agency: agencyName(a, lang), Lines: c.AddressLines(), Phone: c.Phone, Hours: c.HoursIn(lang), Email: c.Email, Web: c.Website}
	if c.Phone != "" {
		cv.Tel = template.URL("tel:" + strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == '+' {
				return r
			}
			return -1
		}, c.Phone)) // digits only: safe in an href
	}
	return cv
}
