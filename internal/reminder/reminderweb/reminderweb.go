// Package reminderweb is the reminder block's pages: "Coming up" (a
// citizen's obligations with their due dates and an "add to calendar" file
// for each), the calendar feed page (make, replace or turn off the secret
// feed address) and the feed itself, /calendar/TOKEN.ics.
package reminderweb

import (
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/reminder"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Auth is what the pages need of the identity block's web side
// (*identityweb.Handlers): the one "signed in" rule. Inside it the request
// context carries the acting platform.Actor, which the block checks.
type Auth interface {
	// RequireSignedIn wraps a handler for a signed-in person; others are
	// sent to sign in.
	RequireSignedIn(fn http.HandlerFunc) http.Handler
}

type pages struct {
	web  *web.Server
	svc  *reminder.Service
	auth Auth
}

// Register adds the pages to s:
//
//	GET  /coming-up                  the signed-in person's open obligations
//	GET  /coming-up/{id}/calendar    one obligation as an .ics file (its owner only)
//	GET  /account/calendar           the calendar feed page
//	POST /account/calendar           make (or replace) the feed address and show it once
//	POST /account/calendar/revoke    turn the feed off
//	GET  /calendar/{file}            the feed, TOKEN.ics (the token is the credential)
func Register(s *web.Server, svc *reminder.Service, auth Auth) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	p := &pages{web: s, svc: svc, auth: auth}
	s.Handle("GET /coming-up", auth.RequireSignedIn(p.comingUp))
	s.Handle("GET /coming-up/{id}/calendar", auth.RequireSignedIn(p.eventFile))
	s.Handle("GET /account/calendar", auth.RequireSignedIn(p.calendarPage))
	s.Handle("POST /account/calendar", auth.RequireSignedIn(p.createFeed))
	s.Handle("POST /account/calendar/revoke", auth.RequireSignedIn(p.revokeFeed))
	s.HandleFunc("GET /calendar/{file}", p.feed)
	return nil
}

type item struct {
	ID, Title, Due, DueISO, URL string
	Amount                      string // what is owed, "" when nothing
	Days                        int    // from today to the due date; negative when overdue
}

// listData is the page; Amounts says whether any item owes money (the
// table then has an amount column).
type listData struct {
	Items   []item
	Amounts bool
}

func (p *pages) comingUp(w http.ResponseWriter, r *http.Request) {
	obs, err := p.svc.List(r.Context(), platform.ActorFrom(r.Context()), false)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	lang := string(web.Lang(r))
	today := p.svc.Today().Time(p.svc.Location())
	var d listData
	page := p.web.Renderer().NewPage(r, nil)
	for _, o := range obs {
		days := int(o.Due.Time(p.svc.Location()).Sub(today).Hours() / 24)
		it := item{ID: o.ID, Title: o.Title.In(lang), Due: reminder.FormatDate(lang, o.Due), DueISO: o.Due.String(), URL: o.URL, Days: days}
		if o.Amount != nil {
			it.Amount, d.Amounts = page.Format().Money(*o.Amount), true
		}
		d.Items = append(d.Items, it)
	}
	page.Data = d
	p.web.Page(w, r, http.StatusOK, "comingup", page)
}

func (p *pages) eventFile(w http.ResponseWriter, r *http.Request) {
	o, err := p.svc.Get(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	body := p.svc.CalendarFor(r.Context(), string(web.Lang(r)), []reminder.Obligation{o})
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+safeName(o.Kind)+"-"+o.Due.String()+`.ics"`)
	_, _ = w.Write(body)
}

// safeName keeps a filename to [a-z0-9-].
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, strings.ToLower(s))
	if s == "" {
		return "reminder"
	}
	return s
}

type calendarData struct {
	Created string       // when the current address was made, for people; "" when none
	NewURL  string       // just made: the https address, shown once
	Webcal  template.URL // just made: the same as webcal://
	Revoked bool
}

func (p *pages) calendarPage(w http.ResponseWriter, r *http.Request) {
	d, err := p.calendarData(r)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	d.Revoked = r.URL.Query().Get("revoked") == "1" && d.Created == ""
	p.web.Page(w, r, http.StatusOK, "calendarfeed", p.web.Renderer().NewPage(r, d))
}

func (p *pages) calendarData(r *http.Request) (calendarData, error) {
	at, err := p.svc.FeedCreated(r.Context(), platform.ActorFrom(r.Context()))
	if err != nil || at.IsZero() {
		return calendarData{}, err
	}
	return calendarData{Created: reminder.FormatDate(string(web.Lang(r)), reminder.DateOf(at.In(p.svc.Location())))}, nil
}

func (p *pages) createFeed(w http.ResponseWriter, r *http.Request) {
	token, err := p.svc.CreateFeed(r.Context(), platform.ActorFrom(r.Context()))
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	d, err := p.calendarData(r)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	d.NewURL = p.svc.FeedURL(token)
	_, rest, _ := strings.Cut(d.NewURL, "://")
	d.Webcal = template.URL("webcal://" + rest) // our own public URL and a base64url token
	// The address is a credential: shown in this response only, never cached.
	w.Header().Set("Cache-Control", "no-store")
	p.web.Page(w, r, http.StatusOK, "calendarfeed", p.web.Renderer().NewPage(r, d))
}

func (p *pages) revokeFeed(w http.ResponseWriter, r *http.Request) {
	if err := p.svc.RevokeFeed(r.Context(), platform.ActorFrom(r.Context())); err != nil {
		p.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/calendar?revoked=1", http.StatusSeeOther)
}

func (p *pages) feed(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	token, ok := reminder.ParseFeedFile(r.PathValue("file"))
	if !ok {
		p.web.Error(w, r, platform.Errorf(platform.CodeNotFound, "reminder.notfound"))
		return
	}
	account, err := p.svc.FeedAccount(r.Context(), token)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	body, err := p.svc.Calendar(r.Context(), account)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	_, _ = w.Write(body)
}
