package reportweb

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/report"
	"github.com/portico-gov/portico/internal/web"
)

// agencyOf is the agency a console page is about: ?agency= when given,
// else the staff member's first agency.
func agencyOf(r *http.Request, by platform.Actor) string {
	if a := r.FormValue("agency"); a != "" {
		return a
	}
	if as := by.Agencies(); len(as) > 0 {
		return as[0]
	}
	return ""
}

// listView is /console/reports.
type listView struct {
	Agency   string
	Agencies []agencyLink // the agencies the reader may choose among, when more than one
	Status   string
	Requests []report.Request
	Older    int64
	Lang     string
	names    map[string]string // service code → its name in Lang
}

// ServiceName is the name of the report-a-problem service code in the
// page's language (the code itself for a service no longer defined).
func (v listView) ServiceName(code string) string {
	if n := v.names[code]; n != "" {
		return n
	}
	return code
}

// agencyLink names an agency the report console can show.
type agencyLink struct{ ID, Name string }

func (h *handlers) consoleList(w http.ResponseWriter, r *http.Request) {
	by := platform.ActorFrom(r.Context())
	agency := agencyOf(r, by)
	q := r.URL.Query()
	var before int64
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			h.web.Error(w, r, platform.Errorf(platform.CodeNotFound, "No such page of reports."))
			return
		}
		before = n
	}
	status := q.Get("status")
	if status != "" && status != report.StatusOpen && status != report.StatusClosed {
		status = ""
	}
	// Every report-a-problem service (a small table): the names of the
	// problems in the list, and the agencies a platform administrator may
	// choose among.
	svcs, err := h.svc.Services(r.Context(), "")
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	agencies := by.Agencies()
	if len(agencies) == 0 && by.PlatformAdmin {
		// A platform administrator holds no agency role: they may read
		// every agency's reports, so they choose among the agencies that
		// take reports (the first by default).
		for _, sv := range report.Offered(svcs) {
			if !slices.Contains(agencies, sv.Agency) {
				agencies = append(agencies, sv.Agency)
			}
		}
		slices.Sort(agencies)
		if agency == "" && len(agencies) > 0 {
			agency = agencies[0]
		}
	}
	if agency == "" {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	rs, err := h.svc.StaffList(r.Context(), by, agency, status, before)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	var links []agencyLink
	if len(agencies) > 1 {
		for _, id := range agencies {
			name, err := h.svc.AgencyName(r.Context(), id, lang(r))
			if err != nil || name == "" {
				name = id
			}
			links = append(links, agencyLink{ID: id, Name: name})
		}
	}
	v := listView{Agency: agency, Agencies: links, Status: status, Requests: rs, Lang: lang(r), names: map[string]string{}}
	for _, sv := range svcs {
		v.names[sv.Code] = sv.NameIn(v.Lang)
	}
	if len(rs) == report.StaffPageSize {
		v.Older = rs[len(rs)-1].Number
	}
	h.web.Page(w, r, http.StatusOK, "report_console", h.web.Renderer().NewPage(r, v))
}

// caseView is /console/reports/{number}.
type caseView struct {
	report.Followed
	States []string
	Lang   string
	Saved  bool
	State  string
	Note   string
}

// Coords is the report's point as people read it, or "".
func (c caseView) Coords() string { return coords(c.Request) }

// Nth is i counted from 1.
func (caseView) Nth(i int) int { return i + 1 }

// Answer is an attribute's question and the answer given.
type Answer struct{ Question, Answer string }

// Answers are the report's answers to its service's questions, in order.
func (c caseView) Answers() []Answer {
	var out []Answer
	for _, a := range c.Service.Attributes {
		vals := c.Request.Attributes[a.Code]
		if len(vals) == 0 {
			continue
		}
		names := make([]string, len(vals))
		for i, v := range vals {
			names[i] = v
			for _, x := range a.Values {
				if x.Key == v {
					names[i] = x.NameIn(c.Lang)
				}
			}
		}
		out = append(out, Answer{Question: a.DescriptionIn(c.Lang), Answer: strings.Join(names, ", ")})
	}
	return out
}

// V returns what was typed (the note).
func (c caseView) V(string) string { return c.Note }

func (h *handlers) consoleView(w http.ResponseWriter, r *http.Request) {
	n, err := number(r)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	fd, err := h.svc.StaffView(r.Context(), platform.ActorFrom(r.Context()), n)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	v := caseView{Followed: fd, States: report.States, Lang: lang(r), Saved: r.URL.Query().Get("saved") == "1", State: fd.Request.State}
	h.web.Page(w, r, http.StatusOK, "report_case", h.web.Renderer().NewPage(r, v))
}

func (h *handlers) consoleStatus(w http.ResponseWriter, r *http.Request) {
	n, err := number(r)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	by := platform.ActorFrom(r.Context())
	state, note := r.PostFormValue("state"), r.PostFormValue("note")
	_, err = h.svc.SetState(r.Context(), by, n, state, note)
	if fe, ok := report.IsFieldErrors(err); ok {
		fd, verr := h.svc.StaffView(r.Context(), by, n)
		if verr != nil {
			h.web.Error(w, r, verr)
			return
		}
		v := caseView{Followed: fd, States: report.States, Lang: lang(r), State: state, Note: note}
		p := h.web.Renderer().NewPage(r, v)
		for _, field := range []string{"state", "note"} {
			if key, ok := fe[field]; ok {
				p.Errors = append(p.Errors, web.FieldError{Field: field, Message: p.T(key)})
			}
		}
		h.web.Page(w, r, http.StatusUnprocessableEntity, "report_case", p)
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/reports/"+strconv.FormatInt(n, 10)+"?saved=1", http.StatusSeeOther)
}

func (h *handlers) consolePhoto(w http.ResponseWriter, r *http.Request) {
	n, err := number(r)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	p, rd, err := h.svc.StaffPhoto(r.Context(), platform.ActorFrom(r.Context()), n, r.PathValue("photo"))
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	defer rd.Close()
	web.Download(w, r, h.web.Logger(), photoName(p), p.ContentType, p.Size, rd)
}

// keysView is /console/open311/keys.
type keysView struct {
	Agency   string
	Agencies []string
	Keys     []report.Key
	Created  string // the new key, shown once
	Name     string
}

// V returns what was typed.
func (k keysView) V(string) string { return k.Name }

func (h *handlers) keysPage(w http.ResponseWriter, r *http.Request, status int, agency, created, name string, errs []web.FieldError) {
	by := platform.ActorFrom(r.Context())
	ks, err := h.svc.Keys(r.Context(), by, agency)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeForbidden {
			h.web.ErrorPage(w, r, http.StatusNotFound)
			return
		}
		h.web.Error(w, r, err)
		return
	}
	p := h.web.Renderer().NewPage(r, keysView{Agency: agency, Agencies: by.Agencies(), Keys: ks, Created: created, Name: name})
	p.Errors = errs
	w.Header().Set("Cache-Control", "no-store")
	h.web.Page(w, r, status, "report_keys", p)
}

func (h *handlers) keys(w http.ResponseWriter, r *http.Request) {
	agency := agencyOf(r, platform.ActorFrom(r.Context()))
	if agency == "" {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	h.keysPage(w, r, http.StatusOK, agency, "", "", nil)
}

func (h *handlers) createKey(w http.ResponseWriter, r *http.Request) {
	by := platform.ActorFrom(r.Context())
	agency := agencyOf(r, by)
	if agency == "" || (!by.PlatformAdmin && !slices.Contains(by.Agencies(), agency)) {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	name := r.PostFormValue("name")
	_, secret, err := h.svc.CreateKey(r.Context(), by, agency, name)
	if platform.ErrorCode(err) == platform.CodeInvalid {
		h.keysPage(w, r, http.StatusUnprocessableEntity, agency, "", name, []web.FieldError{{Field: "name", Message: message(err)}})
		return
	}
	if platform.ErrorCode(err) == platform.CodeForbidden {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	// Shown once, on this response (not a redirect: the key must not
	// travel in a URL).
	h.keysPage(w, r, http.StatusCreated, agency, secret, "", nil)
}

func (h *handlers) revokeKey(w http.ResponseWriter, r *http.Request) {
	by := platform.ActorFrom(r.Context())
	agency := agencyOf(r, by)
	err := h.svc.RevokeKey(r.Context(), by, agency, r.PathValue("id"))
	if platform.ErrorCode(err) == platform.CodeForbidden {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/open311/keys?"+url.Values{"agency": {agency}}.Encode(), http.StatusSeeOther)
}

// message is a block error's sentence for people.
func message(err error) string {
	var pe *platform.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}
