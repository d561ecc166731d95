// Package consentweb is the consent block's pages:
//
//	GET  /consent?service=SERVICE&plugin=PLUGIN&return=/apply/...   the consent screen
//	POST /consent                  give (decision=give) or decline (decision=decline)
//	GET  /account/data             "Who has used my data": consents and every use
//	POST /account/data/withdraw    withdraw a consent (id), at once
//
// The consent screen is a contract other pages code against: a form that
// could be prefilled from a plug-in sends the person here; "give" records
// the consent and goes back to return, "decline" goes back to return with
// consent=declined added to its query (the form then asks the person to
// type the information themselves). return must be a local path.
//
// Every page is for a signed-in person (identityweb's one rule); the
// block decides and audits. Cross-site POSTs are refused by the web
// shell's cross-origin protection, which is Portico's CSRF defence.
package consentweb

import (
	"context"
	"embed"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/consent"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Auth is the identity block's web side (*identityweb.Handlers).
type Auth interface {
	RequireSignedIn(fn http.HandlerFunc) http.Handler
}

// Consents is what the pages need of the block (*consent.Service).
type Consents interface {
	Offer(ctx context.Context, actor platform.Actor, service, plugin string) (consent.Offer, error)
	Give(ctx context.Context, actor platform.Actor, service, plugin string) (consent.Consent, error)
	Withdraw(ctx context.Context, actor platform.Actor, id string) (consent.Consent, error)
	List(ctx context.Context, actor platform.Actor) ([]consent.Consent, error)
	History(ctx context.Context, actor platform.Actor, before int64) (consent.HistoryPage, error)
}

// Agencies names agencies (the tenancy block).
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

// Services names services (the catalog).
type Services interface {
	Latest(ctx context.Context, id string) (catalog.Published, error)
}

// Plugins names plug-ins (the registry).
type Plugins interface {
	Get(ctx context.Context, actor platform.Actor, id string) (*plugin.Plugin, error)
}

// Deps are the pages' dependencies; all are required.
type Deps struct {
	Consents Consents
	Agencies Agencies
	Services Services
	Plugins  Plugins
	Auth     Auth
}

type pages struct {
	web *web.Server
	Deps
}

// DataPath is the "Who has used my data" page.
const DataPath = "/account/data"

// Register adds the pages to s.
func Register(s *web.Server, d Deps) error {
	if err := platform.Required("consentweb", platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "consents", Missing: d.Consents == nil}, platform.Dep{Name: "agencies", Missing: d.Agencies == nil},
		platform.Dep{Name: "services", Missing: d.Services == nil}, platform.Dep{Name: "plug-ins", Missing: d.Plugins == nil},
		platform.Dep{Name: "identity pages", Missing: d.Auth == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	p := &pages{web: s, Deps: d}
	s.Handle("GET /consent", d.Auth.RequireSignedIn(p.screen))
	s.Handle("POST /consent", d.Auth.RequireSignedIn(p.decide))
	s.Handle("GET "+DataPath, d.Auth.RequireSignedIn(p.data))
	s.Handle("POST "+DataPath+"/withdraw", d.Auth.RequireSignedIn(p.withdraw))
	return nil
}

// LocalPath returns ret when it is a path on this site (starting with one
// "/", no scheme, host, backslash or control character), else "".
func LocalPath(ret string) string {
	if ret == "" || ret[0] != '/' || strings.HasPrefix(ret, "//") || strings.ContainsAny(ret, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(ret)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return ret
}

// Declined is return with consent=declined added to its query. It is
// added as text, not by parsing and printing the URL again: printing can
// turn an escaped path ("/%2F ") into one that starts with "//", which a
// browser reads as another site (found by FuzzLocalPath).
func Declined(ret string) string {
	base, frag, hasFrag := strings.Cut(ret, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	out := base + sep + "consent=declined"
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// screenView is the consent screen.
type screenView struct {
	Offer    consent.Offer
	Name     string // the plug-in's name
	Who      string
	Data     []string
	Purpose  string
	Return   string
	Existing bool
}

func (p *pages) screen(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.show(w, r, q.Get("service"), q.Get("plugin"), q.Get("return"))
}

func (p *pages) show(w http.ResponseWriter, r *http.Request, service, pluginID, ret string) {
	ret = LocalPath(ret)
	if ret == "" {
		p.web.Error(w, r, platform.Invalid("return", "consent.return.invalid"))
		return
	}
	o, err := p.Consents.Offer(r.Context(), platform.ActorFrom(r.Context()), service, pluginID)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	lang := string(page.Lang)
	v := screenView{Offer: o, Name: o.PluginName.In(lang), Return: ret, Purpose: o.Purpose.In(lang), Existing: o.Existing != nil}
	v.Who = p.who(r.Context(), page, o.Consent)
	for _, d := range o.Data {
		v.Data = append(v.Data, p.datum(r.Context(), page, d))
	}
	page.Data = v
	p.web.Page(w, r, http.StatusOK, "consent", page)
}

func (p *pages) decide(w http.ResponseWriter, r *http.Request) {
	service, pluginID := r.PostFormValue("service"), r.PostFormValue("plugin")
	ret := LocalPath(r.PostFormValue("return"))
	if ret == "" {
		p.web.Error(w, r, platform.Invalid("return", "consent.return.invalid"))
		return
	}
	switch r.PostFormValue("decision") {
	case "give":
		if _, err := p.Consents.Give(r.Context(), platform.ActorFrom(r.Context()), service, pluginID); err != nil {
			p.web.Error(w, r, err)
			return
		}
		http.Redirect(w, r, ret, http.StatusSeeOther)
	case "decline":
		// Nothing is recorded, but the question must have been one the
		// person could be asked (their own, a service that uses the plug-in).
		if _, err := p.Consents.Offer(r.Context(), platform.ActorFrom(r.Context()), service, pluginID); err != nil {
			p.web.Error(w, r, err)
			return
		}
		http.Redirect(w, r, Declined(ret), http.StatusSeeOther)
	default: // a form of ours always names one: show the question again
		w.Header().Set("Cache-Control", "no-store")
		p.show(w, r, service, pluginID, ret)
	}
}

// agencyName is the agency's name in the page's language.
func (p *pages) agencyName(ctx context.Context, page *web.Page, id string) string {
	a, err := p.Agencies.Agency(ctx, id)
	if err != nil {
		return id
	}
	if page.Lang == "es" && a.NameES != "" {
		return a.NameES
	}
	return a.Name
}

// who says who receives the data: the plug-in and who runs it.
func (p *pages) who(ctx context.Context, page *web.Page, c consent.Consent) string {
	name := c.PluginName.In(string(page.Lang))
	if c.Provider.Agency != "" {
		return page.T("consent.who.agency", name, p.agencyName(ctx, page, c.Provider.Agency))
	}
	return page.T("consent.who.private", name, c.Provider.Name, p.agencyName(ctx, page, c.Agency))
}

// datum is one datum in words.
func (p *pages) datum(ctx context.Context, page *web.Page, d string) string {
	if svc, ok := strings.CutPrefix(d, plugin.DataAnswers); ok {
		return page.T("consent.data.answers", p.serviceName(ctx, page, svc))
	}
	return page.T("consent.data." + d)
}

func (p *pages) serviceName(ctx context.Context, page *web.Page, id string) string {
	s, err := p.Services.Latest(ctx, id)
	if err != nil || s.Manifest == nil {
		return id
	}
	return consent.Text{EN: s.Manifest.Title.EN, ES: s.Manifest.Title.ES}.In(string(page.Lang))
}

// dataWords joins the data in words into one phrase ("your name and your
// home address"), lower-cased after the first, for a sentence.
func (p *pages) dataWords(ctx context.Context, page *web.Page, data []string) string {
	if len(data) == 0 {
		return page.T("consent.use.your.information")
	}
	words := make([]string, len(data))
	for i, d := range data {
		words[i] = lowerFirst(p.datum(ctx, page, d))
	}
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + page.T("consent.and") + words[len(words)-1]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// consentView is one consent on the data page.
type consentView struct {
	ID, Title, Who, Purpose, Status string
	Data                            []string
	Given, Until, Ended             string
	Active                          bool
}

// useView is one use of the person's data.
type useView struct {
	When, ISO, Text string
}

type dataView struct {
	Consents  []consentView
	Uses      []useView
	Next      int64
	Older     bool // a page after the first
	Withdrawn bool
}

func (p *pages) data(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	actor := platform.ActorFrom(ctx)
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			p.web.Error(w, r, platform.Invalid("before", "the page cursor is a positive number"))
			return
		}
		before = n
	}
	cs, err := p.Consents.List(ctx, actor)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	hist, err := p.Consents.History(ctx, actor, before)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	lang := string(page.Lang)
	v := dataView{Next: hist.Next, Older: before > 0, Withdrawn: r.URL.Query().Get("withdrawn") == "1"}
	for _, c := range cs {
		cv := consentView{ID: c.ID, Title: c.PluginName.In(lang), Who: p.who(ctx, page, c), Purpose: c.Purpose.In(lang),
			Given: page.Date(c.GivenAt), Until: page.Date(c.ExpiresAt)}
		for _, d := range c.Data {
			cv.Data = append(cv.Data, p.datum(ctx, page, d))
		}
		switch c.State {
		case consent.StatusActive:
			cv.Status, cv.Active = page.T("consent.data.status.active"), true
		case consent.StatusExpired:
			cv.Status, cv.Ended = page.T("consent.data.status.expired"), page.T("consent.data.expired", page.Date(c.ExpiresAt))
		default:
			cv.Status, cv.Ended = page.T("consent.data.status.withdrawn"), page.T("consent.data.withdrawn.on", page.Date(*c.WithdrawnAt))
		}
		v.Consents = append(v.Consents, cv)
	}
	names := &namer{p: p, ctx: ctx, page: page, consents: cs, plugins: map[string]string{}}
	for _, e := range hist.Entries {
		v.Uses = append(v.Uses, useView{When: page.DateTime(e.At), ISO: page.ISO(e.At), Text: names.sentence(e)})
	}
	page.Data = v
	p.web.Page(w, r, http.StatusOK, "consent_data", page)
}

// namer puts audit entries into plain words, naming plug-ins, services
// and agencies in the page's language.
type namer struct {
	p        *pages
	ctx      context.Context
	page     *web.Page
	consents []consent.Consent
	plugins  map[string]string
}

func (n *namer) plugin(id string) string {
	if s, ok := n.plugins[id]; ok {
		return s
	}
	name := id
	for _, c := range n.consents {
		if c.Plugin == id {
			name = c.PluginName.In(string(n.page.Lang))
			break
		}
	}
	if name == id {
		sys := platform.Actor{Kind: platform.ActorSystem, ID: "consentweb"}
		if pl, err := n.p.Plugins.Get(platform.WithActor(n.ctx, sys), sys, id); err == nil {
			name = consent.Text{EN: pl.Name.EN, ES: pl.Name.ES}.In(string(n.page.Lang))
		}
	}
	n.plugins[id] = name
	return name
}

// sentence says what entry e means for the person.
func (n *namer) sentence(e audit.Entry) string {
	var d struct {
		Service   string   `json:"service"`
		Plugin    string   `json:"plugin"`
		Data      []string `json:"data"`
		Reference string   `json:"reference"`
		Outcome   string   `json:"outcome"`  // a plugin.call's (gateway.Outcome…)
		Status    int      `json:"status"`   // a plugin.call's HTTP status, when the plug-in answered
		Attempts  *int     `json:"attempts"` // a plugin.call's attempts made (nil in entries without it)
	}
	_ = json.Unmarshal(e.Detail, &d) // an entry is JSON; a field it lacks stays empty
	pg, ctx := n.page, n.ctx
	agency := n.p.agencyName(ctx, pg, e.AgencyID)
	pluginID, _ := strings.CutPrefix(e.Subject, "plugin:")
	if d.Plugin != "" {
		pluginID = d.Plugin
	}
	switch e.Action {
	case "plugin.call":
		// A call that failed is listed too (it is a use of the data), but
		// not as received: stopped by the open circuit before any attempt,
		// nothing left Portico; a plug-in that never answered (the circuit
		// may also open between retries) may not have got it.
		key := "consent.use.call"
		switch {
		case d.Outcome == gateway.OutcomeCircuitOpen && d.Attempts != nil && *d.Attempts == 0:
			key = "consent.use.notsent"
		case d.Outcome != "" && d.Outcome != gateway.OutcomeOK && d.Status == 0:
			key = "consent.use.noanswer"
		}
		return pg.T(key, n.plugin(pluginID), agency, n.p.dataWords(ctx, pg, d.Data), n.p.serviceName(ctx, pg, d.Service))
	case "plugin.refuse":
		return pg.T("consent.use.refused", n.plugin(pluginID), agency, n.p.dataWords(ctx, pg, d.Data), n.p.serviceName(ctx, pg, d.Service))
	case "consent.give":
		return pg.T("consent.use.give", n.p.dataWords(ctx, pg, d.Data), n.plugin(pluginID), n.p.serviceName(ctx, pg, d.Service))
	case "consent.withdraw":
		return pg.T("consent.use.withdraw", n.plugin(pluginID), n.p.serviceName(ctx, pg, d.Service))
	case "case.read":
		return pg.T("consent.use.case", agency, d.Reference)
	case "case.file.read":
		return pg.T("consent.use.case.file", agency, d.Reference)
	case "case.applicant.read":
		return pg.T("consent.use.case.applicant", agency, d.Reference)
	}
	if strings.HasPrefix(e.Action, "application.") {
		return pg.T("consent.use.application", agency)
	}
	return pg.T("consent.use.other", agency)
}

func (p *pages) withdraw(w http.ResponseWriter, r *http.Request) {
	if _, err := p.Consents.Withdraw(r.Context(), platform.ActorFrom(r.Context()), r.PostFormValue("id")); err != nil {
		p.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, DataPath+"?withdrawn=1", http.StatusSeeOther)
}
