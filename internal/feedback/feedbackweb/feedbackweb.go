// Package feedbackweb is the feedback block's HTTP side: the public form
// at /feedback (linked from the beta banner of new services), its
// thank-you page, and the platform administrators' list at
// /admin/feedback.
package feedbackweb

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"

	"github.com/portico-gov/portico/internal/feedback"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Feedback is what the pages need of the block.
type Feedback interface {
	Give(ctx context.Context, in feedback.Input, client string) (feedback.Feedback, error)
	List(ctx context.Context, by platform.Actor, c feedback.Cursor) (feedback.Page, error)
}

type handlers struct {
	web *web.Server
	svc Feedback
}

// Register adds the feedback pages.
func Register(s *web.Server, svc Feedback, idw *identityweb.Handlers) error {
	if err := platform.Required("feedbackweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "feedback", Missing: svc == nil},
		platform.Dep{Name: "identity pages", Missing: idw == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &handlers{web: s, svc: svc}
	s.HandleFunc("GET /feedback", h.form)
	s.HandleFunc("POST /feedback", h.give)
	s.HandleFunc("GET /feedback/thanks", h.thanks)
	platformAdmin := func(_ *http.Request, a *identity.Account) bool { return a.PlatformAdmin }
	s.Handle("GET /admin/feedback", idw.RequireStaff(platformAdmin, h.list))
	return nil
}

// form is the data of the feedback page: what was typed, kept after an
// error.
type form struct {
	Values map[string]string
}

// V returns what was typed into a field.
func (f form) V(name string) string { return f.Values[name] }

// fields are the form's fields in page order (the error summary's order).
var fields = []string{"doing", "comment", "email"}

// from returns the path of the page the person came from, from the
// Referer, if it is on this site; only the path (no query: it may hold a
// token or personal data).
func from(r *http.Request) string {
	ref := r.Referer()
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host != r.Host || u.User != nil {
		return ""
	}
	if u.Path == "/feedback" || u.Path == "/feedback/thanks" {
		return ""
	}
	return feedback.SafePage(u.EscapedPath())
}

func (h *handlers) form(w http.ResponseWriter, r *http.Request) {
	f := form{Values: map[string]string{"from": from(r)}}
	h.render(w, r, http.StatusOK, f, nil)
}

func (h *handlers) render(w http.ResponseWriter, r *http.Request, status int, f form, errs map[string]string) {
	p := h.web.Renderer().NewPage(r, f)
	for _, field := range fields {
		if key, ok := errs[field]; ok {
			p.Errors = append(p.Errors, web.FieldError{Field: field, Message: p.T(key)})
		}
	}
	if key, ok := errs[""]; ok { // not about one field: the summary links the first
		p.Errors = append(p.Errors, web.FieldError{Field: "comment", Message: p.T(key)})
	}
	h.web.Page(w, r, status, "feedback", p)
}

func (h *handlers) give(w http.ResponseWriter, r *http.Request) {
	f := form{Values: map[string]string{}}
	for _, name := range append(fields, "from") {
		f.Values[name] = r.PostFormValue(name)
	}
	f.Values["from"] = feedback.SafePage(f.Values["from"])
	_, err := h.svc.Give(r.Context(), feedback.Input{
		Doing: f.V("doing"), Comment: f.V("comment"), Email: f.V("email"), Page: f.V("from"), Lang: string(web.Lang(r)),
	}, web.ClientIP(r))
	if fe, ok := feedback.IsFieldErrors(err); ok {
		h.render(w, r, http.StatusUnprocessableEntity, f, fe)
		return
	}
	if errors.Is(err, feedback.ErrThrottled) {
		h.render(w, r, http.StatusTooManyRequests, f, map[string]string{"": "feedback.error.throttled"})
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	target := "/feedback/thanks"
	if f.V("from") != "" {
		target += "?" + url.Values{"from": {f.V("from")}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *handlers) thanks(w http.ResponseWriter, r *http.Request) {
	back := feedback.SafePage(r.URL.Query().Get("from"))
	h.web.Page(w, r, http.StatusOK, "feedback_thanks", h.web.Renderer().NewPage(r, back))
}

// listView is the administrators' page.
type listView struct {
	Page  feedback.Page
	First bool // the newest page
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := feedback.Cursor{Before: q.Get("before"), After: q.Get("after")}
	if c.Before != "" && c.After != "" {
		c.After = ""
	}
	page, err := h.svc.List(r.Context(), platform.ActorFrom(r.Context()), c)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeInvalid {
			err = platform.Errorf(platform.CodeNotFound, "No such page of feedback.")
		}
		h.web.Error(w, r, err)
		return
	}
	h.web.Page(w, r, http.StatusOK, "feedback_admin", h.web.Renderer().NewPage(r, listView{Page: page, First: page.Newer == ""}))
}
