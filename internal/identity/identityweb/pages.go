package identityweb

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

func lang(r *http.Request) string { return string(web.Lang(r)) }

func redirect(w http.ResponseWriter, r *http.Request, path string, q url.Values) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// codeStep is the data of the "enter the code we emailed" page.
type codeStep struct {
	Action string // form action
	C      string // challenge id
	Email  string
	Again  string // where to ask for a new code
}

// ---- sign up ----

func (h *Handlers) signUpForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "signup", form{Values: map[string]string{}}, nil)
}

func (h *Handlers) signUp(w http.ResponseWriter, r *http.Request) {
	f := newForm(r, "email")
	id, err := h.svc.StartSignUp(r.Context(), f.V("email"), lang(r), clientOf(r))
	if err != nil {
		h.fail(w, r, "signup", f, err, "email")
		return
	}
	redirect(w, r, "/sign-up/code", url.Values{"c": {id}, "email": {strings.TrimSpace(f.V("email"))}})
}

func (h *Handlers) codeForm(w http.ResponseWriter, r *http.Request, action, again string) {
	q := r.URL.Query()
	f := form{Values: map[string]string{}, Extra: codeStep{Action: action, C: q.Get("c"), Email: q.Get("email"), Again: again}}
	h.render(w, r, http.StatusOK, "code", f, nil)
}

func (h *Handlers) confirmCode(w http.ResponseWriter, r *http.Request, p identity.Purpose, action, again, next string) {
	f := newForm(r, "code", "c", "email")
	f.Extra = codeStep{Action: action, C: f.V("c"), Email: f.V("email"), Again: again}
	completion, err := h.svc.ConfirmCode(r.Context(), p, f.V("c"), strings.TrimSpace(f.V("code")), clientOf(r))
	if err != nil {
		h.fail(w, r, "code", f, err, "code")
		return
	}
	h.setCompletion(w, p, completion)
	redirect(w, r, next, nil)
}

func (h *Handlers) signUpCodeForm(w http.ResponseWriter, r *http.Request) {
	h.codeForm(w, r, "/sign-up/code", "/sign-up")
}

func (h *Handlers) signUpCode(w http.ResponseWriter, r *http.Request) {
	h.confirmCode(w, r, identity.PurposeSignUp, "/sign-up/code", "/sign-up", "/sign-up/details")
}

func (h *Handlers) linkExpired(w http.ResponseWriter, r *http.Request, again string) {
	h.render(w, r, http.StatusBadRequest, "linkexpired", form{Values: map[string]string{}, Extra: again}, nil)
}

func (h *Handlers) signUpLink(w http.ResponseWriter, r *http.Request) {
	completion, err := h.svc.ConfirmLink(r.Context(), identity.PurposeSignUp, r.URL.Query().Get("token"))
	if err != nil {
		h.linkExpired(w, r, "/sign-up")
		return
	}
	h.setCompletion(w, identity.PurposeSignUp, completion)
	redirect(w, r, "/sign-up/details", nil)
}

func (h *Handlers) signUpDetailsForm(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.CheckCompletion(r.Context(), identity.PurposeSignUp, h.completion(r, identity.PurposeSignUp)); err != nil {
		h.linkExpired(w, r, "/sign-up")
		return
	}
	h.render(w, r, http.StatusOK, "details", form{Values: map[string]string{}}, nil)
}

func (h *Handlers) signUpDetails(w http.ResponseWriter, r *http.Request) {
	f := newForm(r, "legal_name")
	f.Values["t"] = h.completion(r, identity.PurposeSignUp)
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("password_confirm")
	if pw != confirm {
		h.render(w, r, http.StatusBadRequest, "details", f, map[string]string{"password_confirm": "identity.password.mismatch"})
		return
	}
	token, _, err := h.svc.CompleteSignUp(r.Context(), f.V("t"), identity.SignUpDetails{LegalName: f.V("legal_name"), Password: pw, Lang: lang(r)}, clientOf(r))
	if err != nil {
		if errors.Is(err, identity.ErrBadCode) {
			h.linkExpired(w, r, "/sign-up")
			return
		}
		h.fail(w, r, "details", f, err, "password")
		return
	}
	h.clearCompletion(w, identity.PurposeSignUp)
	h.setCookie(w, token)
	redirect(w, r, "/account", url.Values{"welcome": {"1"}})
}

// ---- sign in ----

// signInView is the sign-in page's extra data.
type signInView struct {
	Reset    bool   // the password was just reset
	External string // the external provider's name, if offered
}

func (h *Handlers) signInView(reset bool) signInView {
	v := signInView{Reset: reset}
	if h.ext != nil {
		v.External = h.ext.cfg.Name
	}
	return v
}

func (h *Handlers) signInForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.render(w, r, http.StatusOK, "signin", form{Values: map[string]string{"next": q.Get("next")}, Extra: h.signInView(q.Get("reset") == "1")}, nil)
}

func (h *Handlers) signIn(w http.ResponseWriter, r *http.Request) {
	f := newForm(r, "email", "next")
	f.Extra = h.signInView(false)
	token, sess, err := h.svc.SignIn(r.Context(), f.V("email"), r.PostFormValue("password"), clientOf(r))
	if err != nil {
		h.fail(w, r, "signin", f, err, "email")
		return
	}
	h.setCookie(w, token)
	next := safeNext(f.V("next"))
	switch sess.Stage {
	case identity.StagePassword:
		redirect(w, r, "/sign-in/verify", url.Values{"next": {next}})
	case identity.StageMFASetup:
		redirect(w, r, "/account/mfa/setup", nil)
	default:
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

func (h *Handlers) verifyForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "verify", form{Values: map[string]string{"next": r.URL.Query().Get("next")}}, nil)
}

func (h *Handlers) verify(w http.ResponseWriter, r *http.Request) {
	f := newForm(r, "next")
	sess, a := Current(r)
	token, err := h.svc.SecondFactor(r.Context(), sess, a, r.PostFormValue("code"), clientOf(r))
	if err != nil {
		h.fail(w, r, "verify", f, err, "code")
		return
	}
	h.setCookie(w, token)
	http.Redirect(w, r, safeNext(f.V("next")), http.StatusSeeOther)
}

func (h *Handlers) signOut(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(sessionKey{}).(*current); ok {
		if err := h.svc.SignOut(r.Context(), c.token); err != nil {
			h.web.Error(w, r, err)
			return
		}
	}
	h.clearCookie(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ---- recovery ----

func (h *Handlers) recoverForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "recover", form{Values: map[string]string{}}, nil)
}

func (h *Handlers) recoverStart(w http.ResponseWriter, r *http.Request) {
	f := newForm(r, "email")
	id, err := h.svc.StartRecovery(r.Context(), f.V("email"), lang(r), clientOf(r))
	if err != nil {
		h.fail(w, r, "recover", f, err, "email")
		return
	}
	redirect(w, r, "/recover/code", url.Values{"c": {id}, "email": {strings.TrimSpace(f.V("email"))}})
}

func (h *Handlers) recoverCodeForm(w http.ResponseWriter, r *http.Request) {
	h.codeForm(w, r, "/recover/code", "/recover")
}

func (h *Handlers) recoverCode(w http.ResponseWriter, r *http.Request) {
	h.confirmCode(w, r, identity.PurposeRecover, "/recover/code", "/recover", "/recover/reset")
}

func (h *Handlers) recoverLink(w http.ResponseWriter, r *http.Request) {
	completion, err := h.svc.ConfirmLink(r.Context(), identity.PurposeRecover, r.URL.Query().Get("token"))
	if err != nil {
		h.linkExpired(w, r, "/recover")
		return
	}
	h.setCompletion(w, identity.PurposeRecover, completion)
	redirect(w, r, "/recover/reset", nil)
}

func (h *Handlers) resetForm(w http.ResponseWriter, r *http.Request) {
	needs, err := h.svc.RecoveryRequirements(r.Context(), h.completion(r, identity.PurposeRecover))
	if err != nil {
		h.linkExpired(w, r, "/recover")
		return
	}
	h.render(w, r, http.StatusOK, "reset", form{Values: map[string]string{}, Extra: needs}, nil)
}

func (h *Handlers) reset(w http.ResponseWriter, r *http.Request) {
	f := newForm(r)
	f.Values["t"] = h.completion(r, identity.PurposeRecover)
	needs, err := h.svc.RecoveryRequirements(r.Context(), f.V("t"))
	if err != nil {
		h.linkExpired(w, r, "/recover")
		return
	}
	f.Extra = needs
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("password_confirm")
	if pw != confirm {
		h.render(w, r, http.StatusBadRequest, "reset", f, map[string]string{"password_confirm": "identity.password.mismatch"})
		return
	}
	if err := h.svc.CompleteRecovery(r.Context(), f.V("t"), pw, r.PostFormValue("code"), clientOf(r)); err != nil {
		h.fail(w, r, "reset", f, err, "password")
		return
	}
	h.clearCompletion(w, identity.PurposeRecover)
	h.clearCookie(w)
	redirect(w, r, "/sign-in", url.Values{"reset": {"1"}})
}

// ---- account ----

type accountView struct {
	Account       *identity.Account
	Jurisdictions []tenancy.Jurisdiction
	Welcome       bool
}

func (h *Handlers) account(w http.ResponseWriter, r *http.Request) {
	_, a := Current(r)
	js, err := h.svc.Jurisdictions(r.Context(), a)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "account", form{Values: map[string]string{}, Extra: accountView{Account: a, Jurisdictions: js, Welcome: r.URL.Query().Get("welcome") == "1"}}, nil)
}

var profileFields = []string{"legal_name", "date_of_birth-month", "date_of_birth-day", "date_of_birth-year", "phone", "lang",
	"residential_line1", "residential_line2", "residential_city", "residential_state", "residential_zip",
	"mailing_line1", "mailing_line2", "mailing_city", "mailing_state", "mailing_zip"}

func (h *Handlers) profileForm(w http.ResponseWriter, r *http.Request) {
	_, a := Current(r)
	dob := i18n.DateInputOf(a.DateOfBirth)
	v := map[string]string{
		"legal_name": a.LegalName, "date_of_birth-month": dob.Month, "date_of_birth-day": dob.Day, "date_of_birth-year": dob.Year, "phone": a.Phone, "lang": a.Lang,
		"residential_line1": a.Residential.Line1, "residential_line2": a.Residential.Line2, "residential_city": a.Residential.City,
		"residential_state": a.Residential.State, "residential_zip": a.Residential.ZIP,
		"mailing_line1": a.Mailing.Line1, "mailing_line2": a.Mailing.Line2, "mailing_city": a.Mailing.City,
		"mailing_state": a.Mailing.State, "mailing_zip": a.Mailing.ZIP,
	}
	h.render(w, r, http.StatusOK, "profile", form{Values: v}, nil)
}

func (h *Handlers) profile(w http.ResponseWriter, r *http.Request) {
	_, a := Current(r)
	f := newForm(r, profileFields...)
	// The date of birth is asked as the memorable date pattern: read the
	// three boxes; a date that cannot be read is shown with every other
	// problem of the form, and nothing is saved.
	dob, dobProblem := "", (*i18n.DateProblem)(nil)
	if in := web.DateInputFrom(url.Values(r.PostForm), "date_of_birth"); !in.Empty() {
		dob, dobProblem = i18n.ParseDate(in)
	}
	p := identity.Profile{
		LegalName: f.V("legal_name"), DateOfBirth: dob, Phone: f.V("phone"), Lang: f.V("lang"),
		Residential: identity.Address{Line1: f.V("residential_line1"), Line2: f.V("residential_line2"), City: f.V("residential_city"), State: f.V("residential_state"), ZIP: f.V("residential_zip")},
		Mailing:     identity.Address{Line1: f.V("mailing_line1"), Line2: f.V("mailing_line2"), City: f.V("mailing_city"), State: f.V("mailing_state"), ZIP: f.V("mailing_zip")},
	}
	if dobProblem != nil {
		errs := map[string]string{}
		for k, v := range p.Validate(h.svc.Now()) { // the other problems, shown with it
			errs[k] = v
		}
		field := "date_of_birth"
		if dobProblem.Part != "" {
			field += "-" + dobProblem.Part
		}
		errs[field] = dobProblem.Key + "|@identity.dob.label"
		h.render(w, r, http.StatusBadRequest, "profile", f, errs)
		return
	}
	sess, _ := Current(r)
	if err := h.svc.UpdateProfileAs(r.Context(), sess, a, p); err != nil {
		h.fail(w, r, "profile", f, err, "legal_name")
		return
	}
	redirect(w, r, "/account", url.Values{"saved": {"1"}})
}

type securityView struct {
	Account       *identity.Account
	Passkeys      []identity.Passkey
	Sessions      []identity.Session
	Current       string
	RecoveryCodes int
	Notice        string
}

func (h *Handlers) security(w http.ResponseWriter, r *http.Request) {
	sess, a := Current(r)
	list, err := h.svc.Sessions(r.Context(), a.ID)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	left, err := h.svc.RecoveryCodesLeft(r.Context(), a.ID)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	passkeys, err := h.svc.Passkeys(r.Context(), a.ID)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	notice := r.URL.Query().Get("done")
	switch notice {
	case "ended", "others", "password", "totp-off", "passkey", "passkey-removed", "email":
	default:
		notice = ""
	}
	h.render(w, r, http.StatusOK, "security", form{Values: map[string]string{}, Extra: securityView{Account: a, Passkeys: passkeys, Sessions: list, Current: sess.ID, RecoveryCodes: left, Notice: notice}}, nil)
}

func (h *Handlers) endSession(w http.ResponseWriter, r *http.Request) {
	_, a := Current(r)
	if err := h.svc.EndSession(r.Context(), a.ID, r.PathValue("id")); err != nil {
		h.web.Error(w, r, err)
		return
	}
	redirect(w, r, "/account/security", url.Values{"done": {"ended"}})
}

func (h *Handlers) endOthers(w http.ResponseWriter, r *http.Request) {
	sess, a := Current(r)
	if _, err := h.svc.SignOutEverywhere(r.Context(), a.ID, sess.ID); err != nil {
		h.web.Error(w, r, err)
		return
	}
	redirect(w, r, "/account/security", url.Values{"done": {"others"}})
}

// needReauth sends a stale session to re-authenticate and reports whether
// it did.
func (h *Handlers) needReauth(w http.ResponseWriter, r *http.Request, back string) bool {
	sess, _ := Current(r)
	if sess.Stage == identity.StageFull && h.svc.NeedsReauth(sess) {
		redirect(w, r, "/account/reauth", url.Values{"next": {back}})
		return true
	}
	return false
}

func (h *Handlers) reauthForm(w http.ResponseWriter, r *http.Request) {
	_, a := Current(r)
	h.render(w, r, http.StatusOK, "reauth", form{Values: map[string]string{"next": r.URL.Query().Get("next")}, Extra: a.TOTPEnabled}, nil)
}

func (h *Handlers) reauth(w http.ResponseWriter, r *http.Request) {
	sess, a := Current(r)
	f := newForm(r, "next")
	f.Extra = a.TOTPEnabled
	if err := h.svc.Reauthenticate(r.Context(), sess, a, r.PostFormValue("password"), r.PostFormValue("code"), clientOf(r)); err != nil {
		h.fail(w, r, "reauth", f, err, "password")
		return
	}
	http.Redirect(w, r, safeNext(f.V("next")), http.StatusSeeOther)
}

func (h *Handlers) passwordForm(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/password") {
		return
	}
	_, a := Current(r)
	h.render(w, r, http.StatusOK, "password", form{Values: map[string]string{}, Extra: a.HasSecondFactor()}, nil)
}

func (h *Handlers) changePassword(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/password") {
		return
	}
	sess, a := Current(r)
	f := form{Values: map[string]string{}, Extra: a.HasSecondFactor()}
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("password_confirm")
	if pw != confirm {
		h.render(w, r, http.StatusBadRequest, "password", f, map[string]string{"password_confirm": "identity.password.mismatch"})
		return
	}
	if err := h.svc.ChangePassword(r.Context(), sess, a, pw); err != nil {
		h.fail(w, r, "password", f, err, "password")
		return
	}
	redirect(w, r, "/account/security", url.Values{"done": {"password"}})
}

type totpView struct {
	Setup *identity.TOTPSetup
	Staff bool
}

// QR returns the QR code as a URL html/template will put in src: it is a
// data: URL made by the server from a PNG, not input.
func (v totpView) QR() template.URL { return template.URL(v.Setup.QRCode) }

func (h *Handlers) totpForm(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/mfa/setup") {
		return
	}
	sess, a := Current(r)
	setup, err := h.svc.BeginTOTP(a)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "totp", form{Values: map[string]string{"secret": setup.Sealed}, Extra: totpView{Setup: setup, Staff: sess.Stage == identity.StageMFASetup}}, nil)
}

func (h *Handlers) totpEnable(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/mfa/setup") {
		return
	}
	sess, a := Current(r)
	secret := r.PostFormValue("secret")
	codes, token, err := h.svc.EnableTOTP(r.Context(), sess, a, secret, r.PostFormValue("code"))
	if err != nil {
		// Show the same secret again so the app that already has it
		// still works.
		setup, e2 := h.svc.TOTPSetupFor(a, secret)
		if e2 != nil { // the form's secret was tampered with: start over
			if setup, e2 = h.svc.BeginTOTP(a); e2 != nil {
				h.web.Error(w, r, e2)
				return
			}
			secret = setup.Sealed
		}
		h.fail(w, r, "totp", form{Values: map[string]string{"secret": secret}, Extra: totpView{Setup: setup, Staff: sess.Stage == identity.StageMFASetup}}, err, "code")
		return
	}
	if token != "" {
		h.setCookie(w, token)
	}
	h.render(w, r, http.StatusOK, "recoverycodes", form{Values: map[string]string{}, Extra: codes}, nil)
}

func (h *Handlers) totpDisable(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/security") {
		return
	}
	sess, a := Current(r)
	if err := h.svc.DisableTOTP(r.Context(), sess, a); err != nil {
		h.web.Error(w, r, err)
		return
	}
	redirect(w, r, "/account/security", url.Values{"done": {"totp-off"}})
}

func (h *Handlers) recoveryCodes(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/security") {
		return
	}
	sess, a := Current(r)
	codes, err := h.svc.RegenerateRecoveryCodes(r.Context(), sess, a)
	if err != nil {
		h.web.Error(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "recoverycodes", form{Values: map[string]string{}, Extra: codes}, nil)
}

// ---- email change ----

func (h *Handlers) emailForm(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/email") {
		return
	}
	h.render(w, r, http.StatusOK, "emailchange", form{Values: map[string]string{}}, nil)
}

func (h *Handlers) emailStart(w http.ResponseWriter, r *http.Request) {
	if h.needReauth(w, r, "/account/email") {
		return
	}
	sess, a := Current(r)
	f := newForm(r, "email")
	id, err := h.svc.StartEmailChange(r.Context(), sess, a, f.V("email"))
	if err != nil {
		h.fail(w, r, "emailchange", f, err, "email")
		return
	}
	redirect(w, r, "/account/email/code", url.Values{"c": {id}, "email": {strings.TrimSpace(f.V("email"))}})
}

func (h *Handlers) emailCodeForm(w http.ResponseWriter, r *http.Request) {
	h.codeForm(w, r, "/account/email/code", "/account/email")
}

func (h *Handlers) emailConfirm(w http.ResponseWriter, r *http.Request) {
	sess, a := Current(r)
	f := newForm(r, "code", "c", "email")
	f.Extra = codeStep{Action: "/account/email/code", C: f.V("c"), Email: f.V("email"), Again: "/account/email"}
	if err := h.svc.ConfirmEmailChange(r.Context(), sess, a, f.V("c"), strings.TrimSpace(f.V("code"))); err != nil {
		h.fail(w, r, "code", f, err, "code")
		return
	}
	redirect(w, r, "/account/security", url.Values{"done": {"email"}})
}
