// Package reportweb is the report block's web side: reporting a problem
// without an account (/report), the reporter's private follow page with
// reopening, reports nearby, and the staff console's reports and Open311
// API keys (/console/reports, /console/open311/keys).
package reportweb

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"mime"
	mpart "mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// maxBody is the largest report form: five photos and the text.
const maxBody = report.MaxPhotos*report.MaxPhotoBytes + 1<<20

type handlers struct {
	web *web.Server
	svc *report.Service
	m   Map
}

// Map is how the report form draws its map (ADR 64). With no Tiles it
// draws a grid over the service's area, labelled as not a street map.
type Map struct {
	// Tiles is an https URL template of raster tiles with {z}, {x} and
	// {y} (an operator's choice, --map-tiles); its origin must be allowed
	// in the site's img-src (web.Config.ImageOrigins).
	Tiles string
	// Attribution is shown under the map when Tiles is set (tile
	// providers require it).
	Attribution string
}

// Register adds the pages.
func Register(s *web.Server, svc *report.Service, idw *identityweb.Handlers, m Map) error {
	if err := platform.Required("reportweb",
		platform.Dep{Name: "web server", Missing: s == nil},
		platform.Dep{Name: "report block", Missing: svc == nil},
		platform.Dep{Name: "identity pages", Missing: idw == nil}); err != nil {
		return err
	}
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &handlers{web: s, svc: svc, m: m}
	s.AllowBody("/report/", maxBody)
	s.HandleFunc("GET /report", h.index)
	s.HandleFunc("GET /report/nearby", h.nearby)
	s.HandleFunc("GET /report/{slug}", h.form)
	s.HandleFunc("POST /report/{slug}", h.submit)
	s.HandleFunc("GET /report/follow/{token}", h.follow)
	s.HandleFunc("POST /report/follow/{token}/reopen", h.reopen)
	s.HandleFunc("GET /report/follow/{token}/photos/{photo}", h.followPhoto)
	staff := func(_ *http.Request, a *identity.Account) bool { return true } // the block decides per agency
	s.Handle("GET /console/reports", idw.RequireStaff(staff, h.consoleList))
	s.Handle("GET /console/reports/{number}", idw.RequireStaff(staff, h.consoleView))
	s.Handle("POST /console/reports/{number}/status", idw.RequireStaff(staff, h.consoleStatus))
	s.Handle("GET /console/reports/{number}/photos/{photo}", idw.RequireStaff(staff, h.consolePhoto))
	s.Handle("GET /console/open311/keys", idw.RequireStaff(staff, h.keys))
	s.Handle("POST /console/open311/keys", idw.RequireStaff(staff, h.createKey))
	s.Handle("POST /console/open311/keys/{id}/revoke", idw.RequireStaff(staff, h.revokeKey))
	return nil
}

func lang(r *http.Request) string { return string(web.Lang(r)) }

// indexView is /report: the services to choose from.
type indexView struct {
	Services []report.ReportService
	Lang     string
}

func (h *handlers) index(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.svc.Services(r.Context(), "")
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.web.Page(w, r, http.StatusOK, "report", h.web.Renderer().NewPage(r, indexView{Services: report.Offered(svcs), Lang: lang(r)}))
}

// formView is a service's report form with what was typed.
type formView struct {
	Service report.ReportService
	Lang    string
	Values  url.Values
	Map     Map
	// AgencyName names the service's agency in Lang (the map's label).
	AgencyName string
}

// V returns what was typed into a field.
func (f formView) V(name string) string { return f.Values.Get(name) }

// Chosen reports whether value was chosen for an attribute.
func (f formView) Chosen(code, value string) bool {
	for _, v := range f.Values["attribute["+code+"]"] {
		if v == value {
			return true
		}
	}
	return false
}

// fieldOrder is the error summary's order: the form's.
func fieldOrder(svc report.ReportService) []string {
	out := []string{"location", "address", "zipcode"}
	for _, a := range svc.Attributes {
		out = append(out, "attribute["+a.Code+"]")
	}
	return append(out, "description", "photos", "email")
}

// FieldID is the id of a field's control in the page, for the summary's
// links: attribute[CODE] is attr-CODE.
func FieldID(field string) string {
	if code, ok := strings.CutPrefix(field, "attribute["); ok {
		return "attr-" + strings.TrimSuffix(code, "]")
	}
	if field == "location" {
		return "address"
	}
	return field
}

func (h *handlers) render(w http.ResponseWriter, r *http.Request, status int, f formView, errs map[string]string) {
	p := h.web.Renderer().NewPage(r, f)
	for _, field := range fieldOrder(f.Service) {
		if key, ok := errs[field]; ok {
			msg := p.T(key)
			if key == "report.error.photo.count" {
				msg = p.T(key, strconv.Itoa(report.MaxPhotos))
			}
			p.Errors = append(p.Errors, web.FieldError{Field: FieldID(field), Message: msg})
		}
	}
	h.web.Page(w, r, status, "report_form", p)
}

func (h *handlers) service(w http.ResponseWriter, r *http.Request) (report.ReportService, bool) {
	svc, err := h.svc.ServiceBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		h.web.Error(w, r, err)
		return report.ReportService{}, false
	}
	return svc, true
}

// newForm is the empty form of svc.
func (h *handlers) newForm(r *http.Request, svc report.ReportService) (formView, error) {
	name, err := h.svc.AgencyName(r.Context(), svc.Agency, lang(r))
	if err != nil {
		return formView{}, err
	}
	return formView{Service: svc, Lang: lang(r), Values: url.Values{}, Map: h.m, AgencyName: name}, nil
}

func (h *handlers) form(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.service(w, r)
	if !ok {
		return
	}
	f, err := h.newForm(r, svc)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, f, nil)
}

// coordinate reads a decimal degree; "" is nil, anything else not a
// number is NaN (which Check refuses as out of range).
func coordinate(v string) *float64 {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		f = math.NaN()
	}
	return &f
}

func (h *handlers) submit(w http.ResponseWriter, r *http.Request) {
	// The body is read and its text checked before anything else: bad
	// bytes are the client's mistake (400) whatever the service.
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	multipart := ct == "multipart/form-data"
	var tooLarge bool
	if multipart {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			var big *http.MaxBytesError
			if !errors.As(err, &big) && !errors.Is(err, mpart.ErrMessageTooLarge) {
				h.web.Error(w, r, platform.Invalid("photos", "the form could not be read"))
				return
			}
			tooLarge = true
		} else {
			defer r.MultipartForm.RemoveAll()
			if err := web.CheckMultipart(r.MultipartForm); err != nil {
				h.web.Error(w, r, err)
				return
			}
		}
	}
	svc, ok := h.service(w, r)
	if !ok {
		return
	}
	f, err := h.newForm(r, svc)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	var photos []report.Photo
	if tooLarge {
		h.render(w, r, http.StatusRequestEntityTooLarge, f, map[string]string{"photos": "report.error.photo.size"})
		return
	}
	if multipart {
		f.Values = url.Values(r.MultipartForm.Value)
		for _, fh := range r.MultipartForm.File["photos"] {
			if fh.Filename == "" && fh.Size == 0 {
				continue
			}
			file, err := fh.Open()
			if err != nil {
				h.web.Error(w, r, err)
				return
			}
			defer file.Close()
			photos = append(photos, report.Photo{Content: file, Size: fh.Size})
		}
	} else {
		if err := r.ParseForm(); err != nil {
			h.web.Error(w, r, platform.Errorf(platform.CodeInvalid, "The form could not be read."))
			return
		}
		f.Values = r.PostForm
	}
	in := report.NewReport{ServiceCode: svc.Code, Lat: coordinate(f.V("lat")), Long: coordinate(f.V("long")), Address: f.V("address"), Zip: f.V("zipcode"),
		Description: f.V("description"), Email: f.V("email"), Lang: lang(r), Attributes: map[string][]string{}}
	for _, a := range svc.Attributes {
		if vs := f.Values["attribute["+a.Code+"]"]; len(vs) > 0 {
			in.Attributes[a.Code] = vs
		}
	}
	rc, err := h.svc.Submit(r.Context(), in, photos, report.Via{Web: true, Client: web.ClientIP(r)})
	if fe, ok := report.IsFieldErrors(err); ok {
		h.render(w, r, http.StatusUnprocessableEntity, f, fe)
		return
	}
	var pp *report.PhotoProblem
	if errors.As(err, &pp) {
		h.render(w, r, http.StatusUnprocessableEntity, f, map[string]string{"photos": pp.Key})
		return
	}
	if errors.Is(err, report.ErrThrottled) {
		h.render(w, r, http.StatusTooManyRequests, f, map[string]string{"location": "report.error.throttled"})
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	target := "/report/follow/" + rc.FollowToken + "?sent=1"
	if in.Email != "" {
		target += "&emailed=1"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// followView is the reporter's page.
type followView struct {
	report.Followed
	Token   string
	Lang    string
	Sent    bool // just sent: the confirmation
	Emailed bool
	Link    string
	Reason  string
	Survey  string
	Zone    string
}

// Coords is the report's point as people read it, or "".
func (f followView) Coords() string { return coords(f.Request) }

// Nth is i counted from 1.
func (followView) Nth(i int) int { return i + 1 }

func coords(r report.Request) string {
	if r.Lat == nil || r.Long == nil {
		return ""
	}
	return fmt.Sprintf("%.5f, %.5f", *r.Lat, *r.Long)
}

// V returns what was typed (the reopen reason).
func (f followView) V(string) string { return f.Reason }

func (h *handlers) followed(w http.ResponseWriter, r *http.Request, status int, fd report.Followed, reason string, errs map[string]string) {
	tok := r.PathValue("token")
	q := r.URL.Query()
	v := followView{Followed: fd, Token: tok, Lang: lang(r), Sent: q.Get("sent") == "1", Emailed: q.Get("emailed") == "1", Link: h.svc.FollowURL(tok), Reason: reason,
		Survey: "/satisfaction?" + url.Values{"after": {"reported"}, "service": {fd.Service.Slug}}.Encode()}
	p := h.web.Renderer().NewPage(r, v)
	if key, ok := errs["reason"]; ok {
		p.Errors = append(p.Errors, web.FieldError{Field: "reason", Message: p.T(key)})
	}
	// The private link is in the address: keep it out of Referer headers
	// and caches.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "private, no-store")
	h.web.Page(w, r, status, "report_follow", p)
}

func (h *handlers) follow(w http.ResponseWriter, r *http.Request) {
	fd, err := h.svc.Follow(r.Context(), r.PathValue("token"))
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.followed(w, r, http.StatusOK, fd, "", nil)
}

func (h *handlers) reopen(w http.ResponseWriter, r *http.Request) {
	// Under AllowBody the shell leaves a multipart body to the handler:
	// parse it within a small limit and check its text (a reason is short).
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		if err := r.ParseMultipartForm(64 << 10); err != nil {
			h.web.Error(w, r, platform.Invalid("reason", "the form could not be read"))
			return
		}
		defer r.MultipartForm.RemoveAll()
		if err := web.CheckMultipart(r.MultipartForm); err != nil {
			h.web.Error(w, r, err)
			return
		}
	}
	reason := r.PostFormValue("reason")
	fd, err := h.svc.Reopen(r.Context(), r.PathValue("token"), reason)
	if fe, ok := report.IsFieldErrors(err); ok {
		cur, err := h.svc.Follow(r.Context(), r.PathValue("token"))
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		h.followed(w, r, http.StatusUnprocessableEntity, cur, reason, fe)
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	_ = fd
	http.Redirect(w, r, "/report/follow/"+r.PathValue("token"), http.StatusSeeOther)
}

func (h *handlers) followPhoto(w http.ResponseWriter, r *http.Request) {
	p, rd, err := h.svc.FollowPhoto(r.Context(), r.PathValue("token"), r.PathValue("photo"))
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	defer rd.Close()
	web.Download(w, r, h.web.Logger(), photoName(p), p.ContentType, p.Size, rd)
}

func photoName(p report.PhotoInfo) string {
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}[p.ContentType]
	return "photo-" + p.ID + ext
}

// nearbyView is /report/nearby.
type nearbyView struct {
	Values   url.Values
	Searched bool
	Requests []report.Request
	Services map[string]report.ReportService
	Lang     string
}

// V returns what was typed.
func (n nearbyView) V(name string) string { return n.Values.Get(name) }

// Meters is a distance rounded for people.
func (nearbyView) Meters(d float64) int { return int(math.Round(d/10) * 10) }

func (h *handlers) nearby(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := nearbyView{Values: q, Lang: lang(r), Services: map[string]report.ReportService{}}
	var err error
	lat, long := coordinate(q.Get("lat")), coordinate(q.Get("long"))
	switch {
	case lat != nil && long != nil:
		v.Searched = true
		v.Requests, err = h.svc.Nearby(r.Context(), *lat, *long)
	case strings.TrimSpace(q.Get("zipcode")) != "":
		v.Searched = true
		v.Requests, err = h.svc.NearbyZip(r.Context(), strings.TrimSpace(q.Get("zipcode")))
	}
	p := h.web.Renderer().NewPage(r, &v)
	status := http.StatusOK
	if err != nil {
		if platform.ErrorCode(err) != platform.CodeInvalid {
			h.web.Error(w, r, err)
			return
		}
		v.Searched = false
		var pe *platform.Error
		errors.As(err, &pe)
		p.Errors = append(p.Errors, web.FieldError{Field: "zipcode", Message: p.T(pe.Message)})
		status = http.StatusUnprocessableEntity
	}
	svcs, err := h.svc.Services(r.Context(), "")
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	for _, s := range svcs {
		v.Services[s.Code] = s
	}
	h.web.Page(w, r, status, "report_nearby", p)
}

// number reads the {number} path value; anything else is not found.
func number(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	if err != nil || n <= 0 {
		return 0, platform.Errorf(platform.CodeNotFound, "No such report.")
	}
	return n, nil
}
