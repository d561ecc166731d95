// Package identityweb is the HTTP side of the identity block: the pages to
// sign up, sign in, recover an account and manage one's account and its
// security, and the middleware that authenticates every request from its
// session cookie.
//
// Authorization for these pages is decided in one place, the route table
// in Register: each route names the session it requires.
package identityweb

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Config for the pages.
type Config struct {
	// External, when set, offers sign-in through another OpenID Provider.
	External *External
	// SecureCookie marks the session cookie Secure and names it with the
	// __Host- prefix. It must be true whenever the site is served over
	// HTTPS; browsers also accept it on http://localhost.
	SecureCookie bool
}

// Handlers serves the identity pages.
type Handlers struct {
	cfg Config
	svc *identity.Service
	web *web.Server
	ext *external // nil unless Config.External
}

// CookieName returns the session cookie's name.
func (h *Handlers) CookieName() string {
	if h.cfg.SecureCookie {
		return "__Host-portico-session"
	}
	return "portico-session"
}

// access is what a route requires of the session.
type access int

const (
	anyone      access = iota // no session needed
	signedIn                  // a full session, citizen or staff
	secondStep                // a session waiting for its second factor
	setupOrFull               // full, or staff waiting to set up a factor
)

// Register adds the pages and the authentication middleware to s.
func Register(s *web.Server, svc *identity.Service, cfg Config) (*Handlers, error) {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return nil, err
	}
	h := &Handlers{cfg: cfg, svc: svc, web: s}
	if cfg.External != nil {
		h.ext = &external{cfg: *cfg.External}
		if h.ext.cfg.Name == "" {
			h.ext.cfg.Name = "Login.gov"
		}
	}
	s.Use(h.authenticate)
	routes := []struct {
		pattern string
		need    access
		fn      http.HandlerFunc
	}{
		{"GET /sign-up", anyone, h.signUpForm},
		{"POST /sign-up", anyone, h.signUp},
		{"GET /sign-up/code", anyone, h.signUpCodeForm},
		{"POST /sign-up/code", anyone, h.signUpCode},
		{"GET /sign-up/confirm", anyone, h.signUpLink},
		{"GET /sign-up/details", anyone, h.signUpDetailsForm},
		{"POST /sign-up/details", anyone, h.signUpDetails},
		{"GET /sign-in", anyone, h.signInForm},
		{"POST /sign-in", anyone, h.signIn},
		{"GET /sign-in/verify", secondStep, h.verifyForm},
		{"POST /sign-in/verify", secondStep, h.verify},
		{"POST /sign-out", anyone, h.signOut},
		{"GET /recover", anyone, h.recoverForm},
		{"POST /recover", anyone, h.recoverStart},
		{"GET /recover/code", anyone, h.recoverCodeForm},
		{"POST /recover/code", anyone, h.recoverCode},
		{"GET /recover/confirm", anyone, h.recoverLink},
		{"GET /recover/reset", anyone, h.resetForm},
		{"POST /recover/reset", anyone, h.reset},
		{"GET /account", signedIn, h.account},
		{"GET /account/profile", signedIn, h.profileForm},
		{"POST /account/profile", signedIn, h.profile},
		{"GET /account/security", signedIn, h.security},
		{"POST /account/sessions/{id}/end", signedIn, h.endSession},
		{"POST /account/sessions/end-others", signedIn, h.endOthers},
		{"GET /account/reauth", signedIn, h.reauthForm},
		{"POST /account/reauth", signedIn, h.reauth},
		{"GET /account/email", signedIn, h.emailForm},
		{"POST /account/email", signedIn, h.emailStart},
		{"GET /account/email/code", signedIn, h.emailCodeForm},
		{"POST /account/email/code", signedIn, h.emailConfirm},
		{"GET /account/password", signedIn, h.passwordForm},
		{"POST /account/password", signedIn, h.changePassword},
		{"GET /account/mfa/setup", setupOrFull, h.totpForm},
		{"POST /account/mfa/setup", setupOrFull, h.totpEnable},
		{"POST /account/mfa/disable", signedIn, h.totpDisable},
		{"POST /account/mfa/recovery-codes", signedIn, h.recoveryCodes},
		{"POST /account/passkeys/begin", signedIn, h.passkeyRegisterBegin},
		{"POST /account/passkeys/finish", signedIn, h.passkeyRegisterFinish},
		{"POST /account/passkeys/{id}/remove", signedIn, h.passkeyRemove},
		{"POST /sign-in/passkey/begin", anyone, h.passkeySignInBegin},
		{"POST /sign-in/passkey/finish", anyone, h.passkeySignInFinish},
	}
	if h.ext != nil {
		routes = append(routes, []struct {
			pattern string
			need    access
			fn      http.HandlerFunc
		}{
			{"GET /sign-in/external", anyone, h.externalStart},
			{"GET /sign-in/external/callback", anyone, h.externalCallback},
			{"GET /sign-in/external/link", anyone, h.externalLinkForm},
			{"POST /sign-in/external/link", anyone, h.externalLink},
		}...)
	}
	for _, rt := range routes {
		s.Handle(rt.pattern, h.require(rt.need, rt.fn))
	}
	return h, nil
}

type sessionKey struct{}

type current struct {
	session *identity.Session
	account *identity.Account
	token   string
}

// Current returns the signed-in session and account of r, if any. The
// session may be at any stage; check Stage.
func Current(r *http.Request) (*identity.Session, *identity.Account) {
	if c, ok := r.Context().Value(sessionKey{}).(*current); ok {
		return c.session, c.account
	}
	return nil, nil
}

// authenticate loads the session named by the cookie, sets the actor for
// audit and the viewer for the layout. An invalid or expired cookie is
// cleared and the request goes on as anonymous.
func (h *Handlers) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(h.CookieName())
		if err != nil || ck.Value == "" || strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		sess, a, err := h.svc.Authenticate(r.Context(), ck.Value)
		if err != nil {
			if platform.ErrorCode(err) != platform.CodeUnauthorized {
				h.web.Error(w, r, err)
				return
			}
			h.clearCookie(w)
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, &current{session: sess, account: a, token: ck.Value})
		if sess.Stage == identity.StageFull {
			ctx = platform.WithActor(ctx, a.Actor())
			name := a.LegalName
			if name == "" {
				name = a.Email
			}
			ctx = web.WithViewer(ctx, web.Viewer{SignedIn: true, Name: name, Staff: a.Kind == identity.Staff, Administrator: a.Administrator(),
				Finance: seesPayments(a), Outcomes: seesOutcomes(a), Reports: seesReports(a)})
		}
		// Pages behind a session are personal: never cache them.
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// require enforces a route's access rule. Anonymous visitors to a
// signed-in page are sent to sign in and brought back afterwards.
func (h *Handlers) require(need access, fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := Current(r)
		ok := false
		switch need {
		case anyone:
			ok = true
		case signedIn:
			ok = sess != nil && sess.Stage == identity.StageFull
		case secondStep:
			ok = sess != nil && sess.Stage == identity.StagePassword
		case setupOrFull:
			ok = sess != nil && (sess.Stage == identity.StageFull || sess.Stage == identity.StageMFASetup)
		}
		if ok {
			fn(w, r)
			return
		}
		if sess != nil && sess.Stage == identity.StagePassword {
			http.Redirect(w, r, "/sign-in/verify", http.StatusSeeOther)
			return
		}
		if sess != nil && sess.Stage == identity.StageFull { // e.g. the second-factor page, already signed in
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		if sess != nil && sess.Stage == identity.StageMFASetup {
			http.Redirect(w, r, "/account/mfa/setup", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.web.Error(w, r, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required"))
	})
}

// RequireSignedIn wraps another block's handler for a signed-in person
// (citizen or staff, full session): anonymous visitors are sent to sign in
// and brought back (see SignedIn). The handler reads the actor from the
// request context (platform.ActorFrom) or the account with Current.
func (h *Handlers) RequireSignedIn(fn http.HandlerFunc) http.Handler {
	return SignedIn(h.web, func(w http.ResponseWriter, r *http.Request, _ *identity.Account) { fn(w, r) })
}

// RequireStaff wraps a staff console handler: a full staff session whose
// account passes allow. Others get 404 (staff pages do not admit they
// exist) or are sent to sign in. Other blocks use it for their routes.
func (h *Handlers) RequireStaff(allow func(r *http.Request, a *identity.Account) bool, fn http.HandlerFunc) http.Handler {
	return h.require(signedIn, func(w http.ResponseWriter, r *http.Request) {
		_, a := Current(r)
		if a.Kind != identity.Staff || !allow(r, a) {
			h.web.ErrorPage(w, r, http.StatusNotFound)
			return
		}
		fn(w, r)
	})
}

func (h *Handlers) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: h.CookieName(), Value: token, Path: "/", HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handlers) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.CookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	})
}

// seesPayments says whether the header shows a staff member the
// Payments link: platform administrators, and finance staff, agency
// administrators and auditors of an agency. The payment block decides
// again on every page (payment.MayReadFinance); this only hides a link
// that would lead nowhere.
func seesPayments(a *identity.Account) bool {
	if a.Kind != identity.Staff {
		return false
	}
	if a.PlatformAdmin {
		return true
	}
	for _, m := range a.Memberships {
		switch m.Role {
		case identity.Finance, identity.AgencyAdmin, identity.Auditor:
			return true
		}
	}
	return false
}

// seesOutcomes mirrors outcome.MayRead: any staff member of an agency
// and platform administrators open /console/outcomes.
func seesOutcomes(a *identity.Account) bool {
	return a.Kind == identity.Staff && (a.PlatformAdmin || len(a.Memberships) > 0)
}

// seesReports mirrors the report block's read rule: agency
// administrators, caseworkers and auditors, and platform administrators,
// open /console/reports.
func seesReports(a *identity.Account) bool {
	if a.Kind != identity.Staff {
		return false
	}
	if a.PlatformAdmin {
		return true
	}
	for _, m := range a.Memberships {
		switch m.Role {
		case identity.AgencyAdmin, identity.Caseworker, identity.Auditor:
			return true
		}
	}
	return false
}

// Completion tickets.
//
// Confirming an email address (by code or link) yields a short-lived
// completion token that lets the browser finish signing up or resetting
// a password. It travels in an HttpOnly cookie, one per purpose, never in
// a URL, where it would land in access logs, browser history and Referer
// headers. SameSite=Lax so that the cookie set by the emailed link (a
// cross-site navigation from a mail client) is sent on the redirect that
// follows; the service still checks the token's purpose, expiry and
// single use.

func (h *Handlers) completionCookie(p identity.Purpose) string {
	name := "portico-" + string(p) + "-ticket"
	if h.cfg.SecureCookie {
		return "__Host-" + name
	}
	return name
}

// completionMaxAge bounds the cookie; the token's own expiry is enforced by
// the service.
const completionMaxAge = 30 * 60

func (h *Handlers) setCompletion(w http.ResponseWriter, p identity.Purpose, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: h.completionCookie(p), Value: token, Path: "/", MaxAge: completionMaxAge, HttpOnly: true,
		Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handlers) clearCompletion(w http.ResponseWriter, p identity.Purpose) {
	http.SetCookie(w, &http.Cookie{
		Name: h.completionCookie(p), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.cfg.SecureCookie, SameSite: http.SameSiteLaxMode,
	})
}

// completion returns the browser's completion token for p, or "".
func (h *Handlers) completion(r *http.Request, p identity.Purpose) string {
	c, err := r.Cookie(h.completionCookie(p))
	if err != nil {
		return ""
	}
	return c.Value
}

// clientOf describes who is asking, for throttling and the audit log. The
// address is the shell's: behind a trusted proxy, the forwarded client.
func clientOf(r *http.Request) identity.Client {
	return identity.Client{IP: web.ClientIP(r), UserAgent: r.UserAgent()}
}

// safeNext returns next if it is a path on this site, else "/account".
// Browsers drop tabs and newlines from URLs and treat "\" like "/", so
// any control character or backslash is refused before parsing, and the
// result must have no scheme or host and start with exactly one "/".
func safeNext(next string) string {
	const fallback = "/account"
	if next == "" || len(next) > 2000 || strings.ContainsAny(next, "\\") {
		return fallback
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") {
		return fallback
	}
	return next
}

// form is the data of a page with a form: the values typed (kept on error)
// and anything else the template needs.
type form struct {
	Values map[string]string
	Extra  any
	DOB    web.DateField // the profile's date of birth (render fills it)
}

func (f form) V(name string) string { return f.Values[name] }

func newForm(r *http.Request, fields ...string) form {
	f := form{Values: map[string]string{}}
	for _, name := range fields {
		f.Values[name] = r.PostFormValue(name)
	}
	return f
}

// render shows page with the given form data and field errors (i18n keys
// by field id).
func (h *Handlers) render(w http.ResponseWriter, r *http.Request, status int, page string, f form, errs map[string]string) {
	p := h.web.Renderer().NewPage(r, nil)
	for _, field := range fieldOrder {
		if field == "date_of_birth" { // the date's boxes share one message
			f.DOB = dateOfBirth(p, f, errs)
			continue
		}
		if key, ok := errs[field]; ok {
			p.Errors = append(p.Errors, web.FieldError{Field: field, Message: translate(p, key)})
		}
	}
	for field, key := range errs { // fields not in fieldOrder, in any order
		if !contains(fieldOrder, field) && !dateField(field) {
			p.Errors = append(p.Errors, web.FieldError{Field: field, Message: translate(p, key)})
		}
	}
	p.Data = f
	h.web.Page(w, r, status, page, p)
}

// dateField reports whether field is the date of birth or one of its boxes.
func dateField(field string) bool {
	return field == "date_of_birth" || strings.HasPrefix(field, "date_of_birth-")
}

// dateOfBirth is the profile's date of birth as the memorable date
// pattern, with what was typed and its one problem (errs keys it by the
// box it is about, or "date_of_birth" for the whole date). The problem
// joins the error summary, linked to its box.
func dateOfBirth(p *web.Page, f form, errs map[string]string) web.DateField {
	msg, part := "", ""
	for _, k := range []string{"date_of_birth", "date_of_birth-" + i18n.PartMonth, "date_of_birth-" + i18n.PartDay, "date_of_birth-" + i18n.PartYear} {
		if key, ok := errs[k]; ok && msg == "" {
			msg = translate(p, key)
			_, part, _ = strings.Cut(k, "-")
		}
	}
	if msg != "" {
		p.Errors = append(p.Errors, web.FieldError{Field: p.FirstDateInput("date_of_birth", part), Message: msg})
	}
	typed := i18n.DateInput{Month: f.V("date_of_birth-month"), Day: f.V("date_of_birth-day"), Year: f.V("date_of_birth-year")}
	return p.DateField("date_of_birth", "date_of_birth", p.T("identity.dob.label"), p.T("identity.dob.hint"), typed, msg, part, true)
}

// translate renders a message key, which may carry one argument after a
// "|" ("identity.throttled|10").
func translate(p *web.Page, key string) string {
	if k, arg, ok := strings.Cut(key, "|"); ok {
		if label, ok := strings.CutPrefix(arg, "@"); ok { // a message key: the field's label
			arg = p.T(label)
		}
		return p.T(k, arg)
	}
	return p.T(key)
}

// fieldOrder is the order errors appear in the summary: the order of the
// fields on the page.
var fieldOrder = []string{"external", "email", "code", "legal_name", "date_of_birth", "phone", "password", "password_confirm",
	"residential_line1", "residential_line2", "residential_city", "residential_state", "residential_zip",
	"mailing_line1", "mailing_line2", "mailing_city", "mailing_state", "mailing_zip"}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errorFields turns a service error into field errors for the page, or
// returns ok=false when err is not about the input.
func (h *Handlers) errorFields(r *http.Request, err error, defaultField string) (map[string]string, int, bool) {
	var fe identity.FieldErrors
	if errors.As(err, &fe) {
		return fe, http.StatusBadRequest, true
	}
	var te *identity.ThrottledError
	if errors.As(err, &te) {
		mins := int(math.Ceil(te.Until.Sub(h.svc.Now()).Minutes()))
		return map[string]string{defaultField: fmt.Sprintf("identity.throttled|%d", max(mins, 1))}, http.StatusTooManyRequests, true
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Code != platform.CodeInternal {
		field := pe.Field
		if field == "" {
			field = defaultField
		}
		return map[string]string{field: pe.Message}, web.Status(err), true
	}
	return nil, 0, false
}

// fail renders the page again with err shown, or the error page when err
// is not the visitor's doing.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, page string, f form, err error, defaultField string) {
	errs, status, ok := h.errorFields(r, err, defaultField)
	if !ok {
		h.web.Error(w, r, err)
		return
	}
	h.render(w, r, status, page, f, errs)
}
