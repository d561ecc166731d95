// Package applyweb is the HTTP side of the application block: starting an
// application from a service's start page, the form pages (one page of
// the manifest at a time), check your answers, submission and its
// confirmation and uploaded files. (The citizen's home, /dashboard, is
// internal/portal/todo.)
//
// Every route needs a full session; every application route also needs
// the application to be the signed-in person's, and answers not-found
// otherwise (so ids reveal nothing).
package applyweb

import (
	"context"
	"embed"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Places resolves the applicant's ZIP code to jurisdictions, for CEL's
// person.residence.jurisdictions.
type Places interface {
	ResolveZIP(ctx context.Context, zip string) ([]tenancy.Jurisdiction, error)
}

// Handlers serves the applying pages.
type Handlers struct {
	web    *web.Server
	svc    *application.Service
	places Places
	inbox  Inbox
}

// maxPageBody bounds a page post: every file field's limit twice over
// (so a file a little too big gets a message beside its field, with
// everything typed kept) plus room for the text.
const maxPageBody = 128 << 20

// Register adds the pages to s.
// Inbox is what the pages need of the notification block: its
// Preferences say which channels the confirmation of a submission went
// by, for the page after submitting; nil says nothing of them.
type Inbox interface {
	Preferences(ctx context.Context, accountID string) (notify.Preferences, error)
}

func Register(s *web.Server, svc *application.Service, places Places, inbox Inbox) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	h := &Handlers{web: s, svc: svc, places: places, inbox: inbox}
	s.AllowBody("/apply/", maxPageBody)
	for _, rt := range []struct {
		pattern string
		fn      func(http.ResponseWriter, *http.Request, application.Applicant)
	}{
		{"GET /services/{id}/apply", h.startForm},
		{"POST /services/{id}/apply", h.start},
		{"GET /apply/{app}", h.resume},
		{"GET /apply/{app}/pages/{page}", h.pageForm},
		{"POST /apply/{app}/pages/{page}", h.savePage},
		{"GET /apply/{app}/check", h.check},
		{"POST /apply/{app}/submit", h.submit},
		{"GET /apply/{app}/done", h.done},
		{"GET /apply/{app}/files/{file}", h.file},
		{"GET /apply/{app}/withdraw", h.withdrawForm},
		{"POST /apply/{app}/withdraw", h.withdraw},
	} {
		s.Handle(rt.pattern, h.signedIn(rt.fn))
	}
	return nil
}

// signedIn runs fn for a full session with the applicant it describes
// (identityweb.SignedIn). A POST to start that is not signed in comes back
// to the GET start page, which asks again.
func (h *Handlers) signedIn(fn func(http.ResponseWriter, *http.Request, application.Applicant)) http.Handler {
	return identityweb.SignedIn(h.web, func(w http.ResponseWriter, r *http.Request, a *identity.Account) {
		ap, err := h.applicant(r.Context(), a)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r, ap)
	}, identityweb.ReturnTo(startPage))
}

// startPage is the GET page a not-signed-in POST to start returns to.
func startPage(r *http.Request) string {
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/services/") {
		return "/services/" + url.PathEscape(id) + "/apply"
	}
	return ""
}

// applicant describes the signed-in person to the application block. A
// ZIP code that is unknown or not one leaves their jurisdictions empty (CEL
// then sees a person outside every jurisdiction); a failure to look it up
// is an error, not an empty list: a database restart answered "you may not
// use this service" (303 to #not-eligible) instead of 503 (the scale-out
// test, ADR 75).
func (h *Handlers) applicant(ctx context.Context, a *identity.Account) (application.Applicant, error) {
	ap := application.Applicant{
		AccountID: a.ID, Email: a.Email, Lang: a.Lang, LegalName: a.LegalName, DateOfBirth: a.DateOfBirth, Phone: a.Phone,
		Residential: application.Address(a.Residential), Mailing: application.Address(a.Mailing),
	}
	if h.places != nil && a.Residential.ZIP != "" {
		js, err := h.places.ResolveZIP(ctx, a.Residential.ZIP)
		if err != nil && platform.ErrorCode(err) != platform.CodeInvalid {
			return ap, err
		}
		for _, j := range js {
			ap.Jurisdictions = append(ap.Jurisdictions, j.ID)
		}
	}
	return ap, nil
}

// fail answers with the error page for err (not-found for someone else's
// application).
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.web.Error(w, r, err)
}

func appURL(id string, parts ...string) string {
	u := "/apply/" + url.PathEscape(id)
	for _, p := range parts {
		u += "/" + url.PathEscape(p)
	}
	return u
}

func pageURL(id, page string) string {
	if page == application.CheckPage {
		return appURL(id, "check")
	}
	return appURL(id, "pages", page)
}

// startForm is where "Start now" leads a person who was not signed in
// (they sign in and come back here) and where a bookmarked apply link
// lands. It takes them straight into the form: to their draft if they
// have one, otherwise it starts one and opens its first page. A person
// who may not use the service goes to its start page, which says why
// and where to go instead.
//
// Starting on a GET is safe to repeat (there is at most one draft per
// person and service, Start returns it), but a page on another site must
// not be able to start drafts in someone's name: only a navigation from
// this site (Sec-Fetch-Site same-origin, as after signing in) or one the
// person typed (none) starts; any other shows the page with its button.
func (h *Handlers) startForm(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	ctx := r.Context()
	f, err := h.svc.LatestForm(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if draft, err := h.svc.DraftOf(ctx, a.AccountID, f.ServiceID); err == nil {
		http.Redirect(w, r, appURL(draft.ID), http.StatusSeeOther)
		return
	} else if platform.ErrorCode(err) != platform.CodeNotFound {
		h.fail(w, r, err)
		return
	}
	now := h.svc.Now()
	if !f.Eligible(a.Person(now), now) {
		http.Redirect(w, r, servicePage(f.ServiceID)+"#not-eligible", http.StatusSeeOther)
		return
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		h.start(w, r, a)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	p.Data = startView{Title: text(p, f.Manifest.Title), Summary: text(p, f.Manifest.Summary), Action: "/services/" + url.PathEscape(f.ServiceID) + "/apply",
		Button: p.T(f.Manifest.Kind.Key("start"))}
	h.web.Page(w, r, http.StatusOK, "apply_start", p)
}

// servicePage is a service's start page in the catalog.
func servicePage(id string) string { return "/services/" + url.PathEscape(id) }

type startView struct {
	Title, Summary, Action, Button string
}

// start starts (or finds) the person's draft and opens it where they left
// off: the first page of a new one. Someone who may not use the service
// is sent to its start page, which says why.
func (h *Handlers) start(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, err := h.svc.Start(r.Context(), a, r.PathValue("id"))
	if errors.Is(err, application.ErrNotEligible) {
		http.Redirect(w, r, servicePage(r.PathValue("id"))+"#not-eligible", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if app.Status == application.StatusDraft && app.Page != "" {
		http.Redirect(w, r, pageURL(app.ID, app.Page), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, appURL(app.ID), http.StatusSeeOther)
}

// resume sends the person to where their application is: the page they
// left off at, check your answers, or the confirmation.
func (h *Handlers) resume(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, _, err := h.svc.Open(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	switch app.Status {
	case application.StatusDraft:
		http.Redirect(w, r, pageURL(app.ID, app.Page), http.StatusSeeOther)
	case application.StatusSubmitted:
		http.Redirect(w, r, appURL(app.ID, "done"), http.StatusSeeOther)
	default:
		h.web.ErrorPage(w, r, http.StatusNotFound)
	}
}

// loadDraft loads the person's draft for a page request; a submitted
// application goes to its confirmation.
func (h *Handlers) loadDraft(w http.ResponseWriter, r *http.Request, a application.Applicant) (*application.Application, *application.Form, bool) {
	app, f, err := h.svc.Open(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return nil, nil, false
	}
	switch app.Status {
	case application.StatusDraft:
		return app, f, true
	case application.StatusSubmitted:
		http.Redirect(w, r, appURL(app.ID, "done"), http.StatusSeeOther)
	default:
		h.web.ErrorPage(w, r, http.StatusNotFound)
	}
	return nil, nil, false
}

func (h *Handlers) pageForm(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, f, ok := h.loadDraft(w, r, a)
	if !ok {
		return
	}
	now := h.svc.Now()
	page := f.Page(r.PathValue("page"))
	if page == nil || !f.Shown(page.ID, app.Answers, a.Person(now), now) {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	answers, saved := app.Answers[page.ID]
	prefilled := false
	var notes pageNotes
	if !saved {
		answers = page.Prefilled(a)
		prefilled = len(answers) > 0
		// A plug-in prefill (prefill_from) over the answers so far: its
		// values are offered like the profile's, never saved unseen.
		declined := r.URL.Query().Get("consent") == "declined"
		res, err := h.svc.PluginPrefill(r.Context(), a, app, f, page, declined)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		switch res.Outcome {
		case application.PrefillConsent:
			h.askConsent(w, r, app, f, page, res.Plugin)
			return
		case application.PrefillDeclined:
			notes.Declined = declined
		case application.PrefillNotFound:
			notes.NotFound = true
		case application.PrefillUnavailable:
			notes.Unavailable = res.Unavailable
			notes.PrefillDown = true
		case application.PrefillFilled:
			for k, v := range res.Answers {
				answers[k] = v
			}
			notes.Plugin = len(res.Answers) > 0
			prefilled = prefilled || notes.Plugin
		}
	}
	// A question whose choices a plug-in gives (choices_from): asked for
	// each showing, so the choices are those free now.
	ch, err := h.svc.PluginChoices(r.Context(), a, app, f, page, r.URL.Query().Get("consent") == "declined")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if ch.Outcome == application.PrefillConsent {
		h.askConsent(w, r, app, f, page, ch.Plugin)
		return
	}
	notes.Choices = &ch
	h.renderPageNotes(w, r, http.StatusOK, a, app, f, page, page.Typed(answers), nil, prefilled, notes)
}

// askConsent sends the person to the consent screen for plugin, which
// brings them back to page (and from there to check your answers if
// they came from it).
func (h *Handlers) askConsent(w http.ResponseWriter, r *http.Request, app *application.Application, f *application.Form, page *application.Page, plugin string) {
	back := pageURL(app.ID, page.ID)
	if r.URL.Query().Get("return") == "check" {
		back += "?return=check"
	}
	http.Redirect(w, r, "/consent?"+url.Values{"service": {f.ServiceID}, "plugin": {plugin}, "return": {back}}.Encode(), http.StatusSeeOther)
}

// pageNotes are what a page says about its plug-in prefill or check.
type pageNotes struct {
	Plugin, NotFound, Declined bool
	Unavailable                *application.Unavailable
	// PrefillDown says Unavailable is the page's prefill: nothing was
	// filled in, but the person can type the answers themselves.
	PrefillDown bool
	// Choices are the page's choices from a plug-in, once asked (nil:
	// renderPageNotes asks).
	Choices *application.ChoicesResult
}

func (h *Handlers) savePage(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, f, ok := h.loadDraft(w, r, a)
	if !ok {
		return
	}
	ctx := r.Context()
	page := f.Page(r.PathValue("page"))
	if page == nil {
		h.web.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	form, uploadProbs, err := h.readPost(w, r, app, page)
	if errors.Is(err, application.ErrSubmitted) { // submitted (another tab) while the file came in
		http.Redirect(w, r, appURL(app.ID, "done"), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.svc.SavePage(ctx, a, app.ID, page.ID, form)
	if platform.ErrorCode(err) == platform.CodeConflict { // submitted meanwhile (another tab)
		http.Redirect(w, r, appURL(app.ID, "done"), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	later := form.Get("action") == "later"
	if probs := mergeProblems(uploadProbs, res.Problems); len(probs) > 0 {
		// "Save and come back later" never depends on a plug-in: a page
		// whose choices cannot be had, or that could not be filled in,
		// while the agency's system is down is left as it was, the rest
		// of the draft is kept, and the person is told so on their
		// dashboard. (The page's message invites them to come back.)
		if later && (h.choicesDown(r, a, app, f, page) || h.prefillDown(r, a, app, f, page)) {
			http.Redirect(w, r, "/dashboard?saved="+url.QueryEscape(app.ID)+"&down=1", http.StatusSeeOther)
			return
		}
		h.renderPage(w, r, http.StatusBadRequest, a, app, f, page, form, probs, false)
		return
	}
	if res.Unavailable != nil && form.Get("action") != "later" {
		// Saved, but not checked: the page again, with what was typed
		// and the message; "Continue" tries again.
		h.renderPageNotes(w, r, http.StatusServiceUnavailable, a, res.App, f, page, form, nil, false, pageNotes{Unavailable: res.Unavailable})
		return
	}
	next := pageURL(app.ID, res.Next)
	switch {
	case later && res.Unavailable != nil:
		next = "/dashboard?saved=" + url.QueryEscape(app.ID) + "&down=1"
	case later:
		next = "/dashboard?saved=" + url.QueryEscape(app.ID)
	case form.Get("return") == "check" && res.App.Page == application.CheckPage:
		next = appURL(app.ID, "check")
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// choicesDown reports whether page's choices come from a plug-in that
// cannot give them now (down, circuit open): its answer cannot be
// confirmed, and no fault of the person.
func (h *Handlers) choicesDown(r *http.Request, a application.Applicant, app *application.Application, f *application.Form, page *application.Page) bool {
	ch, err := h.svc.PluginChoices(r.Context(), a, app, f, page, false)
	return err == nil && ch.Unavailable != nil
}

// prefillDown reports whether page is filled in from a plug-in that
// cannot answer now (down, circuit open): the person came to it to have
// it filled in, and it is no fault of theirs that it was not.
func (h *Handlers) prefillDown(r *http.Request, a application.Applicant, app *application.Application, f *application.Form, page *application.Page) bool {
	res, err := h.svc.PluginPrefill(r.Context(), a, app, f, page, false)
	return err == nil && res.Outcome == application.PrefillUnavailable
}

// mergeProblems puts upload problems first: a refused file is the reason
// the field is empty, so its message is the one to show.
func mergeProblems(first, rest []application.Problem) []application.Problem {
	out := append([]application.Problem(nil), first...)
	for _, p := range rest {
		dup := false
		for _, q := range first {
			dup = dup || q.Field == p.Field
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// readPost reads a page post. File inputs are stored as they arrive
// (Attach); the form then carries each stored file's id under the field's
// name, like the hidden input that keeps an earlier upload.
func (h *Handlers) readPost(w http.ResponseWriter, r *http.Request, app *application.Application, page *application.Page) (url.Values, []application.Problem, error) {
	var limit int64 = 1 << 20
	var fileFields []*application.Field
	for _, f := range page.Fields {
		if f.Widget == "file" {
			fileFields = append(fileFields, f)
			limit += 2 * f.MaxBytes
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, min(limit, maxPageBody))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return url.Values{}, tooLarge(page, fileFields), nil
		}
		return r.PostForm, nil, nil
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		// The body was cut off: what was typed is lost with it, so say
		// which limit was broken.
		return url.Values{}, tooLarge(page, fileFields), nil
	}
	defer r.MultipartForm.RemoveAll()
	// The shell leaves multipart bodies under /apply/ to this handler (its
	// limits are per page), so the text check is this handler's to make.
	if err := web.CheckMultipart(r.MultipartForm); err != nil {
		return nil, nil, err
	}
	form := url.Values(r.MultipartForm.Value)
	var probs []application.Problem
	for _, f := range fileFields {
		fhs := r.MultipartForm.File[f.Name]
		if len(fhs) == 0 || fhs[0].Filename == "" {
			continue
		}
		fh := fhs[0]
		file, err := fh.Open()
		if err != nil {
			return nil, nil, err
		}
		at, prob, err := h.svc.Attach(r.Context(), app.AccountID, app.ID, page.ID, f.Name, application.Upload{Filename: fh.Filename, Size: fh.Size, Content: file})
		file.Close()
		if err != nil {
			return nil, nil, err
		}
		if prob != nil {
			probs = append(probs, *prob)
			continue
		}
		form.Set(f.Name, at.ID)
	}
	return form, probs, nil
}

func tooLarge(page *application.Page, files []*application.Field) []application.Problem {
	if len(files) == 0 {
		return []application.Problem{{Field: "main-content", Key: "apply.error.toolarge"}}
	}
	return []application.Problem{page.FileTooLarge(files[0].Name)}
}

func (h *Handlers) check(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, f, ok := h.loadDraft(w, r, a)
	if !ok {
		return
	}
	// The workflow's plug-in calls that carry the person's data (booking
	// a counter appointment in their name) are made after submission:
	// ask consent before they send, as a page asks before its own call.
	// Declining still lets them send; those calls are then refused and
	// staff see it on the case.
	if r.URL.Query().Get("consent") != "declined" {
		plugin, err := h.svc.ActionConsent(r.Context(), a, app, f)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if plugin != "" {
			http.Redirect(w, r, "/consent?"+url.Values{"service": {f.ServiceID}, "plugin": {plugin}, "return": {appURL(app.ID, "check")}}.Encode(), http.StatusSeeOther)
			return
		}
	}
	h.renderCheck(w, r, http.StatusOK, app, f, a, r.URL.Query().Get("changed") == "1")
}

func (h *Handlers) submit(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	rev, _ := strconv.Atoi(r.PostFormValue("revision"))
	app, err := h.svc.Submit(r.Context(), a, r.PathValue("app"), rev)
	var inc *application.IncompleteError
	switch {
	case errors.As(err, &inc):
		cur, f, err := h.svc.Open(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		page := f.Page(inc.Page)
		h.renderPage(w, r, http.StatusBadRequest, a, cur, f, page, page.Typed(cur.Answers[page.ID]), inc.Problems, false)
		return
	case errors.Is(err, application.ErrStale):
		http.Redirect(w, r, appURL(r.PathValue("app"), "check")+"?changed=1", http.StatusSeeOther)
		return
	case errors.As(err, new(*application.Unavailable)):
		// A plug-in the submission needs (a check, the fee) is down:
		// nothing is sent, the draft is kept; say so on the check page.
		cur, f, err2 := h.svc.Open(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"))
		if err2 != nil {
			h.fail(w, r, err2)
			return
		}
		h.renderCheck(w, r, http.StatusServiceUnavailable, cur, f, a, false)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, appURL(app.ID, "done"), http.StatusSeeOther)
}

func (h *Handlers) done(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, f, err := h.svc.Open(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if app.Status != application.StatusSubmitted {
		http.Redirect(w, r, appURL(app.ID), http.StatusSeeOther)
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	k := f.Manifest.Kind
	v := doneView{App: app, Service: text(p, f.Manifest.Title), Kept: r.URL.Query().Get("kept") != "",
		Title: p.T(k.Key("done.title")), Next: p.T(k.Key("done.next")), Follow: p.T(k.Key("done.case")), SurveyAfter: "submitted"}
	if k == manifest.KindReport {
		v.SurveyAfter = "reported"
	}
	v.Received = p.T(k.Key("done.service"), v.Service)
	if app.FeeAmount != nil {
		v.Fee = p.Money(*app.FeeAmount, app.FeeCurrency)
	}
	if h.inbox != nil {
		// The confirmation went to the inbox and the channels chosen
		// (application.Service.Submit): say where to find it.
		prefs, err := h.inbox.Preferences(r.Context(), a.AccountID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		email := prefs.Email && a.Email != ""
		sms := prefs.SMS && prefs.Phone != ""
		switch {
		case email && sms:
			v.Sent = p.T("apply.done.sent.email_sms", a.Email)
		case email:
			v.Sent = p.T("apply.done.sent.email", a.Email)
		case sms:
			v.Sent = p.T("apply.done.sent.sms")
		default:
			v.Sent = p.T("apply.done.sent.inbox")
		}
	}
	p.Data = v
	h.web.Page(w, r, http.StatusOK, "apply_done", p)
}

type doneView struct {
	App          *application.Application
	Service, Fee string
	// The words of the service's kind ("Report sent", "Follow this report").
	Title, Received, Next, Follow string
	Sent                          string // where the confirmation went; "" when unknown
	// SurveyAfter is the end point the satisfaction survey is offered
	// after: submitted, or reported for a report-a-problem service.
	SurveyAfter string
	// Kept: the person asked to delete the draft after it had been sent
	// (from another tab), so nothing was deleted.
	Kept bool
}

// file serves an uploaded file back to its applicant, always as a
// download: never rendered by the browser in Portico's origin.
func (h *Handlers) file(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	at, rc, err := h.svc.Download(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"), r.PathValue("file"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rc.Close()
	web.Download(w, r, h.web.Logger(), at.Filename, at.ContentType, at.Size, rc)
}

// withdrawForm asks before a draft is deleted: nothing typed is lost by
// one mistaken click.
func (h *Handlers) withdrawForm(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	app, f, ok := h.loadDraft(w, r, a)
	if !ok {
		return
	}
	p := h.web.Renderer().NewPage(r, nil)
	p.Data = withdrawView{Service: text(p, f.Manifest.Title), ServiceID: app.ServiceID, Action: appURL(app.ID, "withdraw"), Title: p.T(f.Manifest.Kind.Key("withdraw.title"))}
	h.web.Page(w, r, http.StatusOK, "apply_withdraw", p)
}

type withdrawView struct{ Service, ServiceID, Action, Title string }

// withdrawnURL is the dashboard after a withdrawal, naming the service
// (from the confirmation form) so the dashboard can offer the
// satisfaction survey about it.
func withdrawnURL(r *http.Request) string {
	q := url.Values{"withdrawn": {"1"}}
	if s := r.PostFormValue("service"); s != "" && len(s) <= 100 {
		q.Set("service", s)
	}
	return "/dashboard?" + q.Encode()
}

func (h *Handlers) withdraw(w http.ResponseWriter, r *http.Request, a application.Applicant) {
	err := h.svc.Withdraw(r.Context(), platform.ActorFrom(r.Context()), r.PathValue("app"))
	switch {
	case errors.Is(err, application.ErrSubmitted): // sent from another tab first: say it was kept
		http.Redirect(w, r, appURL(r.PathValue("app"), "done")+"?kept=1", http.StatusSeeOther)
		return
	case errors.Is(err, application.ErrClosed): // already deleted (another tab, or expired)
		http.Redirect(w, r, withdrawnURL(r), http.StatusSeeOther)
		return
	case platform.ErrorCode(err) == platform.CodeConflict:
		http.Redirect(w, r, appURL(r.PathValue("app")), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, withdrawnURL(r), http.StatusSeeOther)
}
