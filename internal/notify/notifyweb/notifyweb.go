// Package notifyweb is the notification block's pages. Today that is the
// development mailbox (/dev/mailbox), which shows the messages the demo's
// in-process SMTP server received so a person can read them and follow
// their links. It is registered only when the mailbox is enabled (`portico
// demo`, or `portico serve --dev-mailbox`) and must never be on in
// production: it shows everyone's mail to anyone who can reach the site.
package notifyweb

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"regexp"
	"strings"

	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Mailbox is what the pages need of the development mailbox.
type Mailbox interface {
	Messages(ctx context.Context, limit int) ([]notify.MailboxMessage, error)
	Message(ctx context.Context, id string) (notify.MailboxMessage, error)
	Addr() string
}

var _ Mailbox = (*notify.DevMailbox)(nil)

// Texts is what the mailbox page needs of the development SMS provider.
type Texts interface {
	Texts(ctx context.Context, limit int) ([]notify.DevText, error)
}

var _ Texts = (*notify.DevSMS)(nil)

type pages struct {
	web   *web.Server
	box   Mailbox
	texts Texts // nil: no development SMS provider
}

// RegisterDevMailbox adds GET /dev/mailbox (the newest messages),
// GET /dev/mailbox/{id} (one message: its headers and plain-text body with
// web addresses as links) and GET /dev/mailbox/{id}/raw (the message as
// received, as text/plain) to s.
//
// The HTML part of a message is never rendered: the Content-Security-Policy
// of every page would block its inline styles and images, and showing
// untrusted markup unsandboxed is how mail clients get attacked. The text
// part carries the same content.
//
// When texts is not nil the list also shows the text messages the
// development SMS provider kept.
func RegisterDevMailbox(s *web.Server, box Mailbox, texts Texts) error {
	if err := s.Renderer().AddPages(templates, "templates/page_devmailbox*.html"); err != nil {
		return err
	}
	p := &pages{web: s, box: box, texts: texts}
	s.HandleFunc("GET /dev/mailbox", p.list)
	s.HandleFunc("GET /dev/mailbox/{id}", p.message)
	s.HandleFunc("GET /dev/mailbox/{id}/raw", p.raw)
	return nil
}

// listLimit is how many messages the list shows.
const listLimit = 200

type listData struct {
	SMTPAddr string
	Messages []notify.MailboxMessage
	HasTexts bool
	Texts    []textView
}

type textView struct {
	notify.DevText
	Body template.HTML
}

func noStore(w http.ResponseWriter) {
	// Mail holds sign-in codes and confirmation links: keep it out of caches.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Robots-Tag", "noindex")
}

func (p *pages) list(w http.ResponseWriter, r *http.Request) {
	msgs, err := p.box.Messages(r.Context(), listLimit)
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	d := listData{SMTPAddr: p.box.Addr(), Messages: msgs, HasTexts: p.texts != nil}
	if p.texts != nil {
		texts, err := p.texts.Texts(r.Context(), listLimit)
		if err != nil {
			p.web.Error(w, r, err)
			return
		}
		for _, t := range texts {
			d.Texts = append(d.Texts, textView{DevText: t, Body: Linkify(t.Body)})
		}
	}
	noStore(w)
	p.web.Page(w, r, http.StatusOK, "devmailbox", p.web.Renderer().NewPage(r, d))
}

// messageData is the message page's view of a message.
type messageData struct {
	notify.MailboxMessage
	Headers  []notify.Header
	Lang     string        // the message's Content-Language, for lang= on its text
	TextHTML template.HTML // Text, escaped, with web addresses as links
}

func (p *pages) message(w http.ResponseWriter, r *http.Request) {
	m, err := p.box.Message(r.Context(), r.PathValue("id"))
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	d := messageData{MailboxMessage: m, Headers: m.Headers(), TextHTML: Linkify(m.Text)}
	for _, h := range d.Headers {
		if h.Name == "Content-Language" && langPattern.MatchString(h.Value) {
			d.Lang = h.Value
		}
	}
	noStore(w)
	p.web.Page(w, r, http.StatusOK, "devmailbox_message", p.web.Renderer().NewPage(r, d))
}

func (p *pages) raw(w http.ResponseWriter, r *http.Request) {
	m, err := p.box.Message(r.Context(), r.PathValue("id"))
	if err != nil {
		p.web.Error(w, r, err)
		return
	}
	noStore(w)
	// text/plain (and the shell's nosniff) means a browser shows the
	// message's source, never renders it.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(m.Raw))
}

// langPattern accepts the language tags worth putting in a lang attribute.
var langPattern = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

// urlPattern finds http and https addresses in plain text.
var urlPattern = regexp.MustCompile(`https?://[^\s<>"'\x60]+`)

// Linkify returns text HTML-escaped, with every http:// or https:// address
// in it turned into a link. Punctuation that usually ends a sentence rather
// than a URL (.,;:!? and a closing bracket without its opening one) stays
// outside the link. Only http and https become links, so the result is safe
// to render as HTML whatever the text contains.
func Linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, loc := range urlPattern.FindAllStringIndex(text, -1) {
		start, end := loc[0], trimURLEnd(text[loc[0]:loc[1]])+loc[0]
		if !strings.Contains(text[start:end], "://") || strings.HasSuffix(text[start:end], "://") {
			continue // no host: leave it as text
		}
		b.WriteString(template.HTMLEscapeString(text[last:start]))
		u := text[start:end]
		b.WriteString(`<a class="usa-link" href="`)
		b.WriteString(template.HTMLEscapeString(u))
		b.WriteString(`">`)
		b.WriteString(template.HTMLEscapeString(u))
		b.WriteString(`</a>`)
		last = end
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String()) // #nosec G203 -- every piece above is escaped
}

// trimURLEnd returns the length of u without trailing sentence punctuation.
func trimURLEnd(u string) int {
	for len(u) > 0 {
		c := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?*", c) >= 0:
		case c == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
		case c == ']' && strings.Count(u, "[") < strings.Count(u, "]"):
		default:
			return len(u)
		}
		u = u[:len(u)-1]
	}
	return 0
}
