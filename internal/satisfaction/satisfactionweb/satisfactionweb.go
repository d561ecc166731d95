// Package satisfactionweb is the satisfaction block's HTTP side: the
// public survey at /satisfaction?after=KIND&service=SLUG (linked from
// every end of a transaction and from a new service's beta banner), its
// thank-you page, and the console's pages where an agency's staff read
// what people said about its services.
package satisfactionweb

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/feedback"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/satisfaction"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Survey is what the pages need of the block.
type Survey interface {
	Offer(ctx context.Context, after, slug string) (satisfaction.Service, error)
	Give(ctx context.Context, a satisfaction.Answer, client string) (satisfaction.Response, error)
	Services(ctx context.Context, by platform.Actor) ([]satisfaction.Service, error)
	Comments(ctx context.Context, by platform.Actor, slug string, c satisfaction.Cursor) (satisfaction.Page, error)
}

var _ Survey = (*satisfaction.Survey)(nil)

type handlers struct {
	web *web.Server
	svc Survey
}

// Register adds the survey's pages.
func Register(s *web.Server, svc Survey, idw *identityweb.Handlers) error {
	if err := platform.Required("satisfactionweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "survey", Missing: svc == nil},
		platform.Dep{Name: "identity pages", Missing: idw == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &handlers{web: s, svc: svc}
	s.HandleFunc("GET /satisfaction", h.form)
	s.HandleFunc("POST /satisfaction", h.give)
	s.HandleFunc("GET /satisfaction/thanks", h.thanks)
	// Any staff member may open the console's pages; the block decides
	// which services' comments they read (their agencies', or all for a
	// platform administrator).
	anyStaff := func(*http.Request, *identity.Account) bool { return true }
	s.Handle("GET /console/satisfaction", idw.RequireStaff(anyStaff, h.services))
	s.Handle("GET /console/satisfaction/{service}", idw.RequireStaff(anyStaff, h.comments))
	return nil
}

// radioOption is one answer of a question.
type radioOption struct {
	ID, Value, Label string
	Checked          bool
}

// radioGroup is one question: a fieldset whose legend is the question.
type radioGroup struct {
	Name, Legend, Hint, Error string
	Options                   []radioOption
}

// formView is the survey page.
type formView struct {
	Title, Intro, Agency string
	Action               string // the form's own address (after and service in the query)
	Back                 string // where "skip" leads
	Token, From          string
	Score                radioGroup
	Questions            []radioGroup
	Comment              string
}

// scale builds a question's options, 5 first. keys are the labels of 5, 4,
// 3, 2, 1; none ("" for none) is the extra "does not apply" answer.
func scale(p *web.Page, name, legend, hint, picked, errKey string, keys []string, none string) radioGroup {
	g := radioGroup{Name: name, Legend: legend, Hint: hint}
	if errKey != "" {
		g.Error = p.T(errKey)
	}
	for i, k := range keys {
		v := strconv.Itoa(5 - i)
		id := name + "-" + v
		if i == 0 {
			id = name // the error summary links to the first answer
		}
		g.Options = append(g.Options, radioOption{ID: id, Value: v, Label: p.T(k), Checked: picked == v})
	}
	if none != "" {
		g.Options = append(g.Options, radioOption{ID: name + "-na", Value: "na", Label: p.T(none), Checked: picked == "na"})
	}
	return g
}

var (
	satisfiedKeys = []string{"satisfaction.score.5", "satisfaction.score.4", "satisfaction.score.3", "satisfaction.score.2", "satisfaction.score.1"}
	agreeKeys     = []string{"satisfaction.agree.5", "satisfaction.agree.4", "satisfaction.agree.3", "satisfaction.agree.2", "satisfaction.agree.1"}
)

// from is the path of the page the person came from (the confirmation
// they followed the link on), if it is on this site.
func from(r *http.Request) string {
	ref := r.Referer()
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host != r.Host || u.User != nil || u.Path == "/satisfaction" || u.Path == "/satisfaction/thanks" {
		return ""
	}
	return feedback.SafePage(u.EscapedPath())
}

// offer finds the survey the query asks for, or answers with a page that
// says there is none: 400 for an end point that does not exist, 404 for a
// service that is not published.
func (h *handlers) offer(w http.ResponseWriter, r *http.Request) (satisfaction.Service, string, bool) {
	q := r.URL.Query()
	after := q.Get("after")
	svc, err := h.svc.Offer(r.Context(), after, q.Get("service"))
	if err == nil {
		return svc, after, true
	}
	status := web.Status(err)
	if status >= 500 {
		h.web.Error(w, r, err)
		return svc, after, false
	}
	h.web.Page(w, r, status, "satisfaction_unknown", h.web.Renderer().NewPage(r, nil))
	return svc, after, false
}

func (h *handlers) form(w http.ResponseWriter, r *http.Request) {
	svc, after, ok := h.offer(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, svc, after, url.Values{"token": {uuid.NewString()}, "from": {from(r)}}, nil)
}

func (h *handlers) render(w http.ResponseWriter, r *http.Request, status int, svc satisfaction.Service, after string, vals url.Values, errs map[string]string) {
	p := h.web.Renderer().NewPage(r, nil)
	lang := string(p.Lang)
	v := formView{
		Title:  svc.Title.In(lang),
		Agency: svc.Agency.In(lang),
		Action: web.SurveyURL(after, svc.ID),
		Token:  vals.Get("token"), From: feedback.SafePage(vals.Get("from")),
		Comment: vals.Get("comment"),
	}
	v.Intro = p.T("satisfaction.intro", v.Title)
	v.Back = v.From
	if v.Back == "" {
		v.Back = "/services/" + url.PathEscape(svc.ID)
	}
	v.Score = scale(p, "score", p.T("satisfaction.score.legend"), "", vals.Get("score"), errs["score"], satisfiedKeys, "")
	agency := v.Agency
	if agency == "" {
		agency = p.T("satisfaction.agency.fallback")
	}
	for _, q := range satisfaction.Questions {
		legend := p.T("satisfaction.q." + q)
		if q == "trust" { // the one statement that names the agency
			legend = p.T("satisfaction.q."+q, agency)
		}
		v.Questions = append(v.Questions, scale(p, q, legend, "", vals.Get(q), errs[q], agreeKeys, "satisfaction.agree.na"))
	}
	// The summary in page order: the score, the comment, the statements.
	for _, f := range append([]string{"score", "comment"}, satisfaction.Questions...) {
		if key, ok := errs[f]; ok {
			p.Errors = append(p.Errors, web.FieldError{Field: f, Message: p.T(key)})
		}
	}
	if key, ok := errs[""]; ok { // not about one field: the summary links the first
		p.Errors = append(p.Errors, web.FieldError{Field: "score", Message: p.T(key)})
	}
	p.Data = v
	h.web.Page(w, r, status, "satisfaction", p)
}

func (h *handlers) give(w http.ResponseWriter, r *http.Request) {
	svc, after, ok := h.offer(w, r)
	if !ok {
		return
	}
	vals := url.Values{}
	for _, name := range append([]string{"token", "from", "score", "comment"}, satisfaction.Questions...) {
		vals.Set(name, r.PostFormValue(name))
	}
	a := satisfaction.Answer{Token: vals.Get("token"), Service: svc.ID, After: after, Comment: vals.Get("comment"), Lang: string(web.Lang(r)), CX: map[string]int{}}
	errs := map[string]string{}
	if s := vals.Get("score"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs["score"] = "satisfaction.error.score.required"
		}
		a.Score = n
	}
	for _, q := range satisfaction.Questions {
		switch s := vals.Get(q); s {
		case "", "na": // not answered, or "does not apply"
		default:
			n, err := strconv.Atoi(s)
			if err != nil {
				n = -1
			}
			a.CX[q] = n
		}
	}
	_, err := h.svc.Give(r.Context(), a, web.ClientIP(r))
	if fe, ok := satisfaction.IsFieldErrors(err); ok {
		for f, k := range fe {
			errs[f] = k
		}
		h.render(w, r, http.StatusUnprocessableEntity, svc, after, vals, errs)
		return
	}
	if errors.Is(err, satisfaction.ErrThrottled) {
		h.render(w, r, http.StatusTooManyRequests, svc, after, vals, map[string]string{"": "satisfaction.error.throttled"})
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	q := url.Values{"service": {svc.ID}}
	if f := feedback.SafePage(vals.Get("from")); f != "" {
		q.Set("from", f)
	}
	http.Redirect(w, r, "/satisfaction/thanks?"+q.Encode(), http.StatusSeeOther)
}

// thanksView is the thank-you page: where to go back to.
type thanksView struct{ Back string }

func (h *handlers) thanks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back := feedback.SafePage(q.Get("from"))
	if back == "" {
		back = "/"
	}
	h.web.Page(w, r, http.StatusOK, "satisfaction_thanks", h.web.Renderer().NewPage(r, thanksView{Back: back}))
}
