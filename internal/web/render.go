package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

//go:embed templates/*.html
var shellTemplates embed.FS

// Renderer renders pages inside the USWDS layout. Each page template defines
// "title" and "main"; the layout supplies everything around them.
type Renderer struct {
	catalog *i18n.Catalog
	layout  *template.Template
	pages   map[string]*template.Template
	zone    func(context.Context) *time.Location // nil: UTC
}

// NewRenderer parses the layout and the shell's own pages (errors).
func NewRenderer(catalog *i18n.Catalog) (*Renderer, error) {
	layout, err := template.New("layout.html").Funcs(template.FuncMap{"asset": Asset}).ParseFS(shellTemplates, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	r := &Renderer{catalog: catalog, layout: layout, pages: map[string]*template.Template{}}
	if err := r.AddPages(shellTemplates, "templates/page_*.html"); err != nil {
		return nil, err
	}
	return r, nil
}

// AddPages parses page templates matching glob in fsys. A page is named
// after its file without directory, "page_" prefix or extension
// ("templates/page_home.html" is "home").
func (r *Renderer) AddPages(fsys fs.FS, glob string) error {
	files, err := fs.Glob(fsys, glob)
	if err != nil {
		return fmt.Errorf("web: pages %s: %w", glob, err)
	}
	for _, f := range files {
		t, err := r.layout.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(fsys, f); err != nil {
			return fmt.Errorf("web: page %s: %w", f, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path.Base(f), "page_"), ".html")
		if _, dup := r.pages[name]; dup {
			return fmt.Errorf("web: page %q defined twice", name)
		}
		r.pages[name] = t
	}
	return nil
}

// FieldError is one invalid answer on a form, shown in the error summary
// and beside its field.
type FieldError struct {
	Field   string // the input's id, for the summary's link
	Message string // already translated
}

// Viewer is who is looking at a page, as far as the layout cares.
type Viewer struct {
	SignedIn bool
	Name     string
	Staff    bool
	// Administrator: staff administering the platform or an agency (the
	// navigation shows the console's plug-in catalogue).
	Administrator bool
	// Finance: staff who see payments (finance staff, agency
	// administrators and auditors of an agency; platform administrators):
	// the navigation shows Payments.
	Finance bool
	// Outcomes: staff who may open an agency's outcome dashboard (any
	// member of an agency; platform administrators), as
	// outcome.MayRead decides.
	Outcomes bool
	// Reports: staff who may open the reports of problems (agency
	// administrators, caseworkers and auditors of an agency; platform
	// administrators), as the report block decides.
	Reports bool
	unread  func() int // set by WithUnread; counted only when a page shows it
}

// Anonymous reports whether v is nobody signed in: the layout then shows
// the same header to everyone, so a page whose data is the same for
// everyone renders to the same bytes.
func (v Viewer) Anonymous() bool {
	return !v.SignedIn && v.Name == "" && !v.Staff && !v.Administrator && !v.Finance && !v.Outcomes && !v.Reports && v.unread == nil
}

// Unread is how many unread messages the viewer has, for the header's
// messages link: counted when the layout asks, so only rendered pages pay
// for it; 0 when no block set a counter.
func (v Viewer) Unread() int {
	if v.unread == nil {
		return 0
	}
	return v.unread()
}

type unreadKey struct{}

// WithUnread returns ctx carrying count, which the layout calls (at most
// once per page) to show the viewer's unread messages. The notification
// block's pages set it for signed-in citizens.
func WithUnread(ctx context.Context, count func() int) context.Context {
	return context.WithValue(ctx, unreadKey{}, count)
}

type viewerKey struct{}

// WithViewer returns ctx carrying v for the layout.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// Page is what every template sees.
type Page struct {
	Viewer    Viewer
	Lang      i18n.Lang
	Path      string
	RequestID string
	SwitchURL string    // this page in the other language
	Switch    i18n.Lang // the other language
	Errors    []FieldError
	Data      any
	status    int // the HTTP status the page is sent with (Render sets it)
	catalog   *i18n.Catalog
	format    i18n.Formatter
}

// T translates key into the page's language.
func (p *Page) T(key string, args ...any) string { return p.catalog.T(p.Lang, key, args...) }

// N translates a plural message for count n.
func (p *Page) N(key string, n int64, args ...any) string { return p.format.N(key, n, args...) }

// Format is the page's formatter: its language and the jurisdiction's
// time zone. Handlers use it to write dates and money into view models;
// templates use the methods below.
func (p *Page) Format() i18n.Formatter { return p.format }

// Date writes t's date in the jurisdiction's zone ("March 27, 2021").
func (p *Page) Date(t time.Time) string { return p.format.Date(t) }

// DateTime writes t's date and local time ("March 27, 2021, 3:04 PM").
func (p *Page) DateTime(t time.Time) string { return p.format.DateTime(t) }

// DateAnswer writes a stored calendar date (ISO YYYY-MM-DD, a date of
// birth) as "March 27, 2021"; other text is returned as it is.
func (p *Page) DateAnswer(iso string) string { return p.format.DateAnswer(iso) }

// ISO writes t for a <time datetime> attribute.
func (p *Page) ISO(t time.Time) string { return p.format.ISO(t) }

// Money writes minor units of a currency for the page's language.
func (p *Page) Money(minor int64, currency string) string { return p.format.MoneyOf(minor, currency) }

// Failed reports whether the page reports an error: it is sent with an
// error status (an error page, a form sent back with mistakes) or lists
// field errors. The layout then starts the title with "Error:", so a
// screen reader user hears at once that something went wrong (WCAG 3.3.1;
// the pattern of the GOV.UK and USWDS error summaries).
func (p *Page) Failed() bool { return p.status >= 400 || len(p.Errors) > 0 }

// ErrorFor returns the message for field, or "".
func (p *Page) ErrorFor(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// Input is one labelled form field for the "input" template in the layout:
// label, hint, inline error and the value typed (kept after an error;
// never for passwords).
type Input struct {
	ID, Type, Label, Hint, Error, Value, Autocomplete, InputMode string
}

// valuer is form data that can give back what was typed into a field.
type valuer interface{ V(name string) string }

// Input describes field id for the "input" template. labelKey and hintKey
// are message keys (hintKey may be ""); typ is the input type; auto is the
// autocomplete token ("" for none).
func (p *Page) Input(id, typ, labelKey, hintKey, auto string) Input {
	in := Input{ID: id, Type: typ, Label: p.T(labelKey), Error: p.ErrorFor(id), Autocomplete: auto}
	if hintKey != "" {
		in.Hint = p.T(hintKey)
	}
	if v, ok := p.Data.(valuer); ok && typ != "password" {
		in.Value = v.V(id)
	}
	if id == "code" || strings.HasSuffix(id, "_zip") {
		in.InputMode = "numeric"
	}
	return in
}

// NewPage prepares the template data for r.
func (r *Renderer) NewPage(req *http.Request, data any) *Page {
	lang := Lang(req)
	other := i18n.Spanish
	if lang == i18n.Spanish {
		other = i18n.English
	}
	q := req.URL.Query()
	q.Set("lang", string(other))
	v, _ := req.Context().Value(viewerKey{}).(Viewer)
	if count, ok := req.Context().Value(unreadKey{}).(func() int); ok && v.SignedIn {
		var once sync.Once
		n := 0
		v.unread = func() int { once.Do(func() { n = count() }); return n }
	}
	var loc *time.Location
	if r.zone != nil {
		loc = r.zone(req.Context())
	}
	return &Page{
		Viewer: v, Lang: lang, Path: req.URL.Path, RequestID: platform.RequestIDFrom(req.Context()),
		SwitchURL: req.URL.Path + "?" + q.Encode(), Switch: other, Data: data, catalog: r.catalog,
		format: r.catalog.For(lang, loc),
	}
}

// bufPool reuses render buffers: a page is built whole before it is sent,
// and growing a fresh buffer per request was a quarter of all allocation
// (docs/performance.md).
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render writes page name with status. It renders to a buffer first, so a
// template error becomes a clean 500 instead of half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p *Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	p.status = status
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 { // do not keep the odd huge page alive
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if err := t.ExecuteTemplate(buf, "layout.html", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return WriteRendered(w, status, buf.Bytes())
}

// RenderBytes renders page name with status as Render would, and returns
// the body instead of sending it, for a page that is the same for many
// requests (the anonymous home page) and is sent again with
// WriteRendered.
func (r *Renderer) RenderBytes(status int, name string, p *Page) ([]byte, error) {
	t, ok := r.pages[name]
	if !ok {
		return nil, fmt.Errorf("web: no page %q", name)
	}
	p.status = status
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return nil, fmt.Errorf("web: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// WriteRendered sends a rendered page body with the headers Render sends.
func WriteRendered(w http.ResponseWriter, status int, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// Page renders page name for req, turning a rendering failure into the
// error page.
func (s *Server) Page(w http.ResponseWriter, req *http.Request, status int, name string, p *Page) {
	if err := s.renderer.Render(w, status, name, p); err != nil {
		if ClientGone(req) {
			// Writing to a client that has left fails: not a server error
			// (and the header is already sent).
			logClientGone(req, s.logger, err)
			return
		}
		s.logger.ErrorContext(req.Context(), "render failed", "err", err, "request_id", p.RequestID)
		s.ErrorPage(w, req, http.StatusInternalServerError)
	}
}

// SendRendered sends a page body rendered earlier (Renderer.RenderBytes)
// for req. Only the write can fail, and the header is then already sent:
// the failure is logged, as Page logs it.
func (s *Server) SendRendered(w http.ResponseWriter, req *http.Request, status int, body []byte) {
	if err := WriteRendered(w, status, body); err != nil {
		if ClientGone(req) {
			logClientGone(req, s.logger, err)
			return
		}
		s.logger.WarnContext(req.Context(), "sending a rendered page failed", "err", err,
			"request_id", platform.RequestIDFrom(req.Context()))
	}
}

// ErrorPage renders the accessible page for an error status.
func (s *Server) ErrorPage(w http.ResponseWriter, req *http.Request, status int) {
	name := "error"
	switch status {
	case http.StatusNotFound:
		name = "notfound"
	case http.StatusMethodNotAllowed:
		name = "methodnotallowed"
	case http.StatusRequestEntityTooLarge:
		name = "toolarge"
	case http.StatusForbidden:
		name = "forbidden"
	case http.StatusServiceUnavailable:
		name = "unavailable"
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", strconv.Itoa(DefaultRetryAfter))
		}
	}
	p := s.renderer.NewPage(req, nil)
	if err := s.renderer.Render(w, status, name, p); err != nil {
		if ClientGone(req) {
			logClientGone(req, s.logger, err)
			return
		}
		// The error page itself failed: fall back to plain text.
		s.logger.ErrorContext(req.Context(), "error page failed", "err", err)
		http.Error(w, http.StatusText(status), status)
	}
}

// StaffError answers a console page's refusal: 403 for staff of the
// agency who lack the role (they know the page exists), 404 for everyone
// else a block refused (unauthorized or not found: no hint that it
// exists); any other error as Error does.
func (s *Server) StaffError(w http.ResponseWriter, req *http.Request, err error) {
	switch platform.ErrorCode(err) {
	case platform.CodeForbidden:
		s.ErrorPage(w, req, http.StatusForbidden)
	case platform.CodeUnauthorized, platform.CodeNotFound:
		s.ErrorPage(w, req, http.StatusNotFound)
	default:
		s.Error(w, req, err)
	}
}

// Error answers a page request that failed with err: the error page for
// its status, logging internal errors with the request id.
func (s *Server) Error(w http.ResponseWriter, req *http.Request, err error) {
	status := Status(err)
	if status >= 500 && ClientGone(req) {
		s.clientWentAway(w, req, err)
		return
	}
	if status == http.StatusServiceUnavailable {
		SetRetryAfter(w, err)
	}
	if status >= 500 && !IsAPI(req) {
		logFailure(req, s.logger, status, err)
	}
	if IsAPI(req) {
		WriteProblem(w, req, s.logger, err)
		return
	}
	s.ErrorPage(w, req, status)
}
