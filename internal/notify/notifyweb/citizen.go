package notifyweb

import (
	"context"
	"html/template"
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

// Citizen is what the citizen's pages need of the notification block.
type Citizen interface {
	Inbox(ctx context.Context, by platform.Actor, limit int) ([]notify.Notification, error)
	UnreadCount(ctx context.Context, by platform.Actor) (int, error)
	MarkRead(ctx context.Context, by platform.Actor, id string) error
	Preferences(ctx context.Context, accountID string) (notify.Preferences, error)
	SetPreferences(ctx context.Context, p notify.Preferences) (notify.Preferences, error)
}

var _ Citizen = (*notify.Service)(nil)

// Agencies names the agencies messages come from (the tenancy block).
type Agencies interface {
	Agency(ctx context.Context, id string) (tenancy.Agency, error)
}

type citizenPages struct {
	web      *web.Server
	svc      Citizen
	agencies Agencies
}

// Register adds the signed-in person's pages: GET /inbox (their in-app
// messages, newest first, each with its sender agency and opened in
// place), POST /inbox/{id}/read and GET and POST /account/notifications
// (channels and language).
func Register(s *web.Server, svc Citizen, agencies Agencies) error {
	for _, page := range []string{"templates/page_inbox.html", "templates/page_notifyprefs.html"} {
		if err := s.Renderer().AddPages(templates, page); err != nil {
			return err
		}
	}
	p := &citizenPages{web: s, svc: svc, agencies: agencies}
	s.Use(p.unreadInHeader)
	s.Handle("GET /inbox", identityweb.SignedIn(s, p.inbox))
	s.Handle("POST /inbox/{id}/read", identityweb.SignedIn(s, p.markRead))
	s.Handle("GET /account/notifications", identityweb.SignedIn(s, p.prefsForm))
	s.Handle("POST /account/notifications", identityweb.SignedIn(s, p.savePrefs))
	return nil
}

// unreadInHeader lets the layout show a signed-in citizen's unread
// messages beside "Messages": one indexed COUNT over the person's own
// inbox, run only when a page is rendered (web.WithUnread).
func (p *citizenPages) unreadInHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		by := platform.ActorFrom(r.Context())
		if by.Kind != platform.ActorCitizen || !by.SignedIn() || by.Client != "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		count := func() int {
			n, err := p.svc.UnreadCount(ctx, by)
			if err != nil { // the header is no reason to fail a page
				p.web.Logger().WarnContext(ctx, "unread count", "err", err)
				return 0
			}
			return n
		}
		next.ServeHTTP(w, r.WithContext(web.WithUnread(ctx, count)))
	})
}

type inboxItem struct {
	notify.Notification
	Body   template.HTML // the text, escaped, with web addresses as links
	Sender string        // the agency's name in the page's language; "" for the platform
}

type inboxView struct {
	Messages []inboxItem
	Unread   int
	Read     string // the id just marked read, to open it
}

// inboxLimit is how many messages the inbox shows, newest first.
const inboxLimit = 100

func (p *citizenPages) inbox(w http.ResponseWriter, r *http.Request, a *identity.Account) {
	by := platform.ActorFrom(r.Context())
	msgs, err := p.svc.Inbox(r.Context(), by, inboxLimit)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	unread, err := p.svc.UnreadCount(r.Context(), by)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	page := p.web.Renderer().NewPage(r, nil)
	v := inboxView{Read: r.URL.Query().Get("read"), Unread: unread}
	names := map[string]string{} // one lookup per agency, however many messages
	for _, m := range msgs {
		item := inboxItem{Notification: m, Body: Linkify(m.BodyText)}
		if m.AgencyID != "" {
			name, ok := names[m.AgencyID]
			if !ok {
				ag, err := p.agencies.Agency(r.Context(), m.AgencyID)
				switch {
				case err == nil:
					name = ag.Name
					if page.Lang == i18n.Spanish && ag.NameES != "" {
						name = ag.NameES
					}
				case platform.ErrorCode(err) == platform.CodeNotFound:
					name = m.AgencyID // an agency since removed: its id is all there is
				default:
					p.web.Error(w, r, err)
					return
				}
				names[m.AgencyID] = name
			}
			item.Sender = name
		}
		v.Messages = append(v.Messages, item)
	}
	w.Header().Set("Cache-Control", "no-store")
	page.Data = v
	p.web.Page(w, r, http.StatusOK, "inbox", page)
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
	if prefs.Lang == "" {
		prefs.Lang = a.Lang // what messages are written in until they choose
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
		InApp: true, Phone: r.PostForm.Get("phone"), Lang: r.PostForm.Get("lang")}
	if _, err := p.svc.SetPreferences(r.Context(), in); err != nil {
		pe, ok := err.(*platform.Error)
		if !ok || pe.Code != platform.CodeInvalid {
			p.web.Error(w, r, err)
			return
		}
		page := p.web.Renderer().NewPage(r, prefsView{Prefs: in, phone: in.Phone})
		field := pe.Field
		page.Errors = []web.FieldError{{Field: field, Message: page.T(pe.Message)}}
		p.web.Page(w, r, http.StatusUnprocessableEntity, "notifyprefs", page)
		return
	}
	http.Redirect(w, r, "/account/notifications?saved=1", http.StatusSeeOther)
}
