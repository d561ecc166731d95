package notifyweb

import (
	"context"
	"html/template"
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// Citizen is what the citizen's pages need of the notification block.
type Citizen interface {
	Inbox(ctx context.Context, by platform.Actor, limit int) ([]notify.Notification, error)
	MarkRead(ctx context.Context, by platform.Actor, id string) error
	Preferences(ctx context.Context, accountID string) (notify.Preferences, error)
	SetPreferences(ctx context.Context, p notify.Preferences) (notify.Preferences, error)
}

var _ Citizen = (*notify.Service)(nil)

type citizenPages struct {
	web *web.Server
	svc Citizen
}

// Register adds the signed-in person's pages: GET /inbox (their in-app
// messages, newest first, each opened in place), POST /inbox/{id}/read
// and GET and POST /account/notifications (channels and language).
func Register(s *web.Server, svc Citizen) error {
	for _, page := range []string{"templates/page_inbox.html", "templates/page_notifyprefs.html"} {
		if err := s.Renderer().AddPages(templates, page); err != nil {
			return err
		}
	}
	p := &citizenPages{web: s, svc: svc}
	s.Handle("GET /inbox", identityweb.SignedIn(s, p.inbox))
	s.Handle("POST /inbox/{id}/read", identityweb.SignedIn(s, p.markRead))
	s.Handle("GET /account/notifications", identityweb.SignedIn(s, p.prefsForm))
	s.Handle("POST /account/notifications", identityweb.SignedIn(s, p.savePrefs))
	return nil
}

type inboxItem struct {
	notify.Notification
	Body template.HTML // the text, escaped, with web addresses as links
}

type inboxView struct {
	Messages []inboxItem
	Unread   int
	Read     string // the id just marked read, to open it
}

func (p *citizenPages) inbox(w http.ResponseWriter, r *http.Request, a *identity.Account) {
	msgs, err := p.svc.Inbox(r.Context(), platform.ActorFrom(r.Context()), 100)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	v := inboxView{Read: r.URL.Query().Get("read")}
	for _, m := range msgs {
		v.Messages = append(v.Messages, inboxItem{Notification: m, Body: Linkify(m.BodyText)})
		if m.ReadAt.IsZero() {
			v.Unread++
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	p.web.Page(w, r, http.StatusOK, "inbox", p.web.Renderer().NewPage(r, v))
}

func (p *citizenPages) markRead(w http.ResponseWriter, r *http.Request, a *identity.Account) {
	id := r.PathValue("id")
	if err := p.svc.MarkRead(r.Context(), platform.ActorFrom(r.Context()), id); err != nil {
		p.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/inbox?read="+url.QueryEscape(id)+"#message-"+url.QueryEscape(id), http.StatusSeeOther)
}

type prefsView struct {
	Prefs notify.Preferences
	Saved bool
	phone string
}

// V gives the form's values back to the "input" template.
func (v prefsView) V(name string) string {
	if name == "phone" {
		return v.phone
	}
	return ""
}

func (p *citizenPages) prefsForm(w http.ResponseWriter, r *http.Request, a *identity.Account) {
	prefs, err := p.svc.Preferences(r.Context(), a.ID)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	v := prefsView{Prefs: prefs, Saved: r.URL.Query().Get("saved") == "1", phone: prefs.Phone}
	if v.phone == "" {
		v.phone = a.Phone
	}
	p.web.Page(w, r, http.StatusOK, "notifyprefs", p.web.Renderer().NewPage(r, v))
}

func (p *citizenPages) savePrefs(w http.ResponseWriter, r *http.Request, a *identity.Account) {
	if err := r.ParseForm(); err != nil {
		p.web.Error(w, r, platform.Errorf(platform.CodeInvalid, "bad form"))
		return
	}
	in := notify.Preferences{AccountID: a.ID, Email: r.PostForm.Get("email") == "on", SMS: r.PostForm.Get("sms") == "on",
		InApp: r.PostForm.Get("inapp") == "on", Phone: r.PostForm.Get("phone"), Lang: r.PostForm.Get("lang")}
	if _, err := p.svc.SetPreferences(r.Context(), in); err != nil {
		pe, ok := err.(*platform.Error)
		if !ok || pe.Code != platform.CodeInvalid {
			p.web.Error(w, r, err)
			return
		}
		page := p.web.Renderer().NewPage(r, prefsView{Prefs: in, phone: in.Phone})
		field := pe.Field
		if field == "channels" {
			field = "email"
		}
		page.Errors = []web.FieldError{{Field: field, Message: page.T(pe.Message)}}
		p.web.Page(w, r, http.StatusUnprocessableEntity, "notifyprefs", page)
		return
	}
	http.Redirect(w, r, "/account/notifications?saved=1", http.StatusSeeOther)
}
