// Package oidcweb is the HTTP side of the OpenID Provider block
// (internal/oidc): it mounts zitadel/oidc's provider over the block's
// op.Storage, and serves Portico's pages around it (the hand-off to
// sign-in, consent, logout confirmation, connected services). The block
// holds no HTTP types; this package turns requests into its calls.
package oidcweb

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/cors"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	oidcsvc "github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Paths. The protocol endpoints are served by zitadel/oidc's provider;
// the others are Portico's pages around it.
const (
	discoveryPath  = "/.well-known/openid-configuration"
	authorizePath  = "/oauth/authorize"
	callbackPath   = "/oauth/authorize/callback"
	tokenPath      = "/oauth/token"
	introspectPath = "/oauth/introspect"
	revokePath     = "/oauth/revoke"
	userinfoPath   = "/oauth/userinfo"
	endSessionPath = "/oauth/end_session"
	keysPath       = "/oauth/keys"
	loginPath      = oidcsvc.LoginPath
	consentPath    = "/oauth/consent"
	logoutPath     = oidcsvc.LogoutPath
	viaFormParam   = "via"
	viaFormValue   = "form"
)

// corsOptions are the provider's CORS rules, also applied to the
// client-credentials grant served beside it (clientCredentialsGrant).
func corsOptions() *cors.Options {
	return &cors.Options{
		AllowedOrigins: []string{"*"}, AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"}, AllowCredentials: false,
	}
}

// handlers serves the provider and its pages.
type handlers struct {
	svc      *oidcsvc.Service
	web      *web.Server
	idw      *identityweb.Handlers
	provider *op.Provider
	// clientCredentials is clientCredentialsGrant behind the provider's
	// CORS rules.
	clientCredentials http.Handler
}

// Register mounts the provider and its pages on s. Every path is
// registered explicitly, so it is listed in s.Routes() and in the
// authorization table. idw gives the signed-in session (identityweb
// must be registered first).
func Register(s *web.Server, svc *oidcsvc.Service, idw *identityweb.Handlers) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	quietLibrarySpans()
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(authorizePath), op.NewEndpoint(tokenPath), op.NewEndpoint(userinfoPath),
			op.NewEndpoint(revokePath), op.NewEndpoint(endSessionPath), op.NewEndpoint(keysPath)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(introspectPath)),
		op.WithCrypto(svc.CodeCrypto()),
		op.WithAccessTokenKeySet(svc.TokenKeySet()),
		op.WithIDTokenHintKeySet(svc.TokenKeySet()),
		// Cross-origin reads of discovery, keys and userinfo, without
		// credentials: nothing here authenticates by cookie.
		op.WithCORSOptions(corsOptions()),
	}
	if strings.HasPrefix(svc.Config().Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure()) // development and the demo only; https in production
	}
	provider, err := op.NewProvider(&op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		DefaultLogoutRedirectURI: svc.Config().Issuer + "/",
		SupportedUILocales:       []language.Tag{language.English, language.Spanish},
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress,
			oidcsvc.ScopeBirthdate, oidcsvc.ScopeApplications, oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash",
			"name", "locale", "email", "email_verified", "phone_number", "address", "birthdate"},
	}, svc, op.StaticIssuer(svc.Config().Issuer), opts...)
	if err != nil {
		return fmt.Errorf("oidc: provider: %w", err)
	}
	h := &handlers{svc: svc, web: s, idw: idw, provider: provider}
	h.clientCredentials = cors.New(*corsOptions()).Handler(http.HandlerFunc(h.clientCredentialsGrant))
	for _, p := range []string{
		"GET " + discoveryPath, "GET " + keysPath,
		"GET " + authorizePath, "POST " + authorizePath, "GET " + callbackPath,
		"POST " + tokenPath, "OPTIONS " + tokenPath, "POST " + introspectPath, "POST " + revokePath, "OPTIONS " + revokePath,
		"GET " + userinfoPath, "POST " + userinfoPath, "OPTIONS " + userinfoPath,
		"GET " + endSessionPath,
	} {
		s.Handle(p, http.HandlerFunc(h.protocol))
	}
	// A single-page app (a public client with PKCE) exchanges its code and
	// refreshes from the browser, cross-origin. These two endpoints act only
	// on what the request carries (client authentication, the PKCE verifier,
	// the token itself), never on Portico's session cookie, so a cross-site
	// POST gains nothing a direct one would not. The CORS answer comes from
	// the provider's own handler (credentials not allowed).
	s.AllowCrossOrigin("POST "+tokenPath, "POST "+revokePath)
	s.HandleFunc("POST "+revokeAllPath, h.revokeAll)
	s.HandleFunc("GET "+loginPath, h.login)
	s.HandleFunc("GET "+consentPath, h.consentForm)
	s.HandleFunc("POST "+consentPath, h.consent)
	s.HandleFunc("GET "+logoutPath, h.logoutForm)
	s.HandleFunc("POST "+logoutPath, h.logout)
	s.Handle("GET "+connectionsPath, idw.RequireSignedIn(h.connections))
	s.Handle("POST "+connectionsPath+"/withdraw", idw.RequireSignedIn(h.withdraw))
	return nil
}

// protocol hands a request to the provider after the checks the library
// leaves to its host: a body or query that does not parse is an OAuth
// invalid_request (the library would answer some of those with a 500),
// token responses are never cached, and for the authorization endpoint a
// plain-text error (a request that cannot be sent back to the client) is
// shown as a Portico page instead.
func (h *handlers) protocol(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, oidc.ErrInvalidRequest().WithDescription("request body too large"))
			return
		}
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("the request could not be parsed"))
		return
	}
	switch r.URL.Path {
	case discoveryPath, keysPath:
		w.Header().Set("Cache-Control", "public, max-age=300")
	default:
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
	}
	if r.URL.Path == endSessionPath {
		// Only logout acts on the browser's session
		// (TerminateSessionFromRequest); the other endpoints do not
		// carry it, so a token grant does not pay for it.
		info := &oidcsvc.BrowserSession{}
		if sess, a := identityweb.Current(r); sess != nil && sess.Stage == identity.StageFull {
			info.Session, info.Account = sess, a
			if ck, err := r.Cookie(h.idw.CookieName()); err == nil {
				info.Token = ck.Value
			}
		}
		r = r.WithContext(oidcsvc.WithBrowserSession(r.Context(), info))
		w = &cookieClearer{ResponseWriter: w, info: info, h: h}
	}
	if r.URL.Path == introspectPath {
		// A client's own token is answered from its claims (ADR 60).
		r = r.WithContext(oidcsvc.WithPresentedToken(r.Context(), r.PostForm.Get("token")))
	}
	if r.URL.Path == authorizePath || r.URL.Path == callbackPath {
		cw := &captureWriter{ResponseWriter: w}
		h.provider.ServeHTTP(cw, r)
		if cw.captured {
			h.errorPage(w, r, http.StatusBadRequest, "oidc.error.request", strings.TrimSpace(cw.buf.String()))
		}
		return
	}
	if r.URL.Path == discoveryPath {
		h.discovery(w, r)
		return
	}
	if r.URL.Path == tokenPath && r.Method == http.MethodPost && r.FormValue("grant_type") == string(oidc.GrantTypeClientCredentials) {
		h.clientCredentials.ServeHTTP(w, r)
		return
	}
	h.provider.ServeHTTP(w, r)
}

// clientCredentialsGrant answers a client_credentials grant as the
// library's op.ClientCredentialsExchange does, with the library's own
// parsing, client authentication, validation and error answers; only the
// token is made by the block (oidc.Service.ClientCredentialsResponse: the
// same token, signed while its audit entry commits, without the
// library's per-grant signer and claim merging). Issue 14.
func (h *handlers) clientCredentialsGrant(w http.ResponseWriter, r *http.Request) {
	req, err := op.ParseClientCredentialsRequest(r, h.provider.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	tr, client, err := op.ValidateClientCredentialsRequest(r.Context(), req, h.provider)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	resp, err := h.svc.ClientCredentialsResponse(r.Context(), tr, client)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	httphelper.MarshalJSON(w, resp)
}

// discovery serves the library's discovery document without
// device_authorization_endpoint, which it always lists: Portico does not
// offer the device grant, and the path is not served.
func (h *handlers) discovery(w http.ResponseWriter, r *http.Request) {
	bw := &bufferWriter{header: w.Header()}
	h.provider.ServeHTTP(bw, r)
	var doc map[string]any
	if bw.status != 0 && bw.status != http.StatusOK || json.Unmarshal(bw.buf.Bytes(), &doc) != nil {
		if bw.status != 0 {
			w.WriteHeader(bw.status)
		}
		_, _ = w.Write(bw.buf.Bytes())
		return
	}
	delete(doc, "device_authorization_endpoint")
	w.Header().Del("Content-Length")
	web.WriteJSON(w, http.StatusOK, doc)
}

// bufferWriter holds a response so it can be edited before it is sent.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(code int)        { b.status = code }

func writeOAuthError(w http.ResponseWriter, status int, e *oidc.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// captureWriter holds back a plain-text 400 (what the library sends when
// an authorization request cannot be answered at its redirect_uri).
type captureWriter struct {
	http.ResponseWriter
	captured bool
	buf      bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if code == http.StatusBadRequest && strings.HasPrefix(c.Header().Get("Content-Type"), "text/plain") {
		c.captured = true
		c.Header().Del("Content-Type")
		c.Header().Del("X-Content-Type-Options")
		return
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.captured {
		if c.buf.Len() < 1000 {
			c.buf.Write(b)
		}
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}

// cookieClearer removes the session cookie from the response when logout
// ended the session.
type cookieClearer struct {
	http.ResponseWriter
	info *oidcsvc.BrowserSession
	h    *handlers
	done bool
}

func (c *cookieClearer) WriteHeader(code int) {
	if !c.done && c.info.Ended {
		c.h.clearCookie(c.ResponseWriter)
	}
	c.done = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *cookieClearer) Write(b []byte) (int, error) {
	if !c.done {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

func (h *handlers) clearCookie(w http.ResponseWriter) {
	name := h.idw.CookieName()
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: strings.HasPrefix(name, "__Host-"), SameSite: http.SameSiteLaxMode})
}

// errorPage shows an accessible page for a request that cannot go on.
func (h *handlers) errorPage(w http.ResponseWriter, r *http.Request, status int, key, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	p := h.web.Renderer().NewPage(r, errorView{Key: key, Detail: detail})
	h.web.Page(w, r, status, "oidc_error", p)
}

type errorView struct {
	Key    string
	Detail string
}

// continueView is the page that takes the browser on to the relying party.
type continueView struct {
	ClientName string
	URL        string
}

// continueTo sends the browser to target (the relying party, or the
// callback that redirects there). After a form submission it must not be
// a redirect: browsers apply the form's Content-Security-Policy
// (form-action 'self') to every redirect that follows a POST, which
// would block the hop to the relying party. So it answers with a page
// that moves on at once (Refresh, with a link for anyone whose browser
// does not).
func (h *handlers) continueTo(w http.ResponseWriter, r *http.Request, target, clientName string, afterForm bool) {
	if !afterForm {
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Refresh", "0; url="+target)
	p := h.web.Renderer().NewPage(r, continueView{ClientName: clientName, URL: target})
	h.web.Page(w, r, http.StatusOK, "oidc_continue", p)
}

// fullSession returns the signed-in person, if their session is complete.
func fullSession(r *http.Request) (*identity.Session, *identity.Account) {
	sess, a := identityweb.Current(r)
	if sess == nil || a == nil || sess.Stage != identity.StageFull {
		return nil, nil
	}
	return sess, a
}

// prefersSpanish reports whether the request's ui_locales put Spanish
// before English.
func prefersSpanish(uiLocales string) bool {
	for _, l := range strings.Fields(uiLocales) {
		switch strings.ToLower(strings.SplitN(l, "-", 2)[0]) {
		case "es":
			return true
		case "en":
			return false
		}
	}
	return false
}

// login is the client's LoginURL: the bridge from the authorization
// request to Portico's own sign-in. Without a full session it sends the
// person to /sign-in and back here; with one it binds the request to the
// person, asks for consent when the scopes are not already granted, and
// goes on to the callback that answers the relying party.
func (h *handlers) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	a, err := h.svc.LoadAuthRequest(ctx, q.Get("id"))
	if err != nil {
		h.authError(w, r, err)
		return
	}
	c, err := h.svc.ClientByID(ctx, a.ClientID)
	if err != nil {
		h.authError(w, r, err)
		return
	}
	afterForm := q.Get(viaFormParam) == viaFormValue
	sess, acct := fullSession(r)
	now := h.svc.Now()
	fresh := sess != nil && (!sess.AuthenticatedAt.Before(a.CreatedAt) || a.MaxAge == nil && !a.HasPrompt(oidc.PromptLogin) ||
		a.MaxAge != nil && now.Sub(sess.AuthenticatedAt) <= time.Duration(*a.MaxAge)*time.Second)
	if !fresh {
		if a.HasPrompt(oidc.PromptNone) {
			op.AuthRequestError(w, r, a, oidc.ErrLoginRequired(), h.provider)
			return
		}
		back := loginPath + "?" + url.Values{"id": {a.ID}, viaFormParam: {viaFormValue}}.Encode()
		target := "/sign-in?" + url.Values{"next": {back}}.Encode()
		if sess != nil { // signed in, but not recently enough for max_age or prompt=login
			target = "/account/reauth?" + url.Values{"next": {back}}.Encode()
		}
		if prefersSpanish(a.UILocales) {
			target += "&lang=es"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if err := h.svc.Bind(ctx, a, sess, acct); err != nil {
		h.authError(w, r, err)
		return
	}
	granted, err := h.svc.Consented(ctx, acct.ID, c.ID)
	if err != nil {
		h.authError(w, r, err)
		return
	}
	if !covers(granted, a.Scopes) || a.HasPrompt(oidc.PromptConsent) {
		if a.HasPrompt(oidc.PromptNone) {
			op.AuthRequestError(w, r, a, &oidc.Error{ErrorType: "consent_required", Description: "the person has not consented to these scopes"}, h.provider)
			return
		}
		http.Redirect(w, r, consentPath+"?"+url.Values{"id": {a.ID}}.Encode(), http.StatusSeeOther)
		return
	}
	if err := h.svc.MarkDone(ctx, a.ID); err != nil {
		h.authError(w, r, err)
		return
	}
	h.continueTo(w, r, callbackPath+"?"+url.Values{"id": {a.ID}}.Encode(), c.Name, afterForm)
}

// authError shows an error page for a request that cannot go on: 400 for
// the client's or person's mistake (an expired request, say), 500 for
// Portico's own fault.
func (h *handlers) authError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType != oidc.ServerError {
		h.errorPage(w, r, http.StatusBadRequest, "oidc.error.expired", "")
		return
	}
	h.web.Error(w, r, err)
}

// covers reports whether granted includes every scope in asked.
func covers(granted, asked []string) bool {
	for _, s := range asked {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}

// consentView is the consent page's data.
type consentView struct {
	ID         string
	ClientName string
	Items      []string // message keys, one per thing released
}

// consentItems lists, in a fixed order, what each requested scope
// releases, as message keys.
func consentItems(scopes []string) []string {
	order := []struct{ scope, key string }{
		{oidc.ScopeOpenID, "oidc.consent.item.openid"},
		{oidc.ScopeProfile, "oidc.consent.item.profile"},
		{oidc.ScopeEmail, "oidc.consent.item.email"},
		{oidc.ScopePhone, "oidc.consent.item.phone"},
		{oidc.ScopeAddress, "oidc.consent.item.address"},
		{oidcsvc.ScopeBirthdate, "oidc.consent.item.birthdate"},
		{oidcsvc.ScopeApplications, "oidc.consent.item.applications"},
		{oidc.ScopeOfflineAccess, "oidc.consent.item.offline"},
	}
	var out []string
	for _, o := range order {
		if slices.Contains(scopes, o.scope) {
			out = append(out, o.key)
		}
	}
	return out
}

// consentRequest loads the request a consent page is about and checks it
// belongs to the signed-in person. ok=false means the answer was written.
func (h *handlers) consentRequest(w http.ResponseWriter, r *http.Request, id string) (*oidcsvc.AuthRequest, *oidcsvc.Client, *identity.Account, bool) {
	ctx := r.Context()
	a, err := h.svc.LoadAuthRequest(ctx, id)
	if err != nil {
		h.authError(w, r, err)
		return nil, nil, nil, false
	}
	_, acct := fullSession(r)
	if acct == nil || a.AccountID == "" || acct.ID != a.AccountID {
		// Not signed in as the person the request was bound to: start
		// the hand-off again, which signs them in and binds it anew.
		http.Redirect(w, r, loginPath+"?"+url.Values{"id": {a.ID}}.Encode(), http.StatusSeeOther)
		return nil, nil, nil, false
	}
	c, err := h.svc.ClientByID(ctx, a.ClientID)
	if err != nil {
		h.authError(w, r, err)
		return nil, nil, nil, false
	}
	return a, c, acct, true
}

func (h *handlers) consentForm(w http.ResponseWriter, r *http.Request) {
	a, c, _, ok := h.consentRequest(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	p := h.web.Renderer().NewPage(r, consentView{ID: a.ID, ClientName: c.Name, Items: consentItems(a.Scopes)})
	h.web.Page(w, r, http.StatusOK, "oidc_consent", p)
}

// consent records the person's answer. Allow: the scopes are remembered
// for this client (audited) and the request completes. Deny: the relying
// party gets access_denied.
func (h *handlers) consent(w http.ResponseWriter, r *http.Request) {
	a, c, acct, ok := h.consentRequest(w, r, r.PostFormValue("id"))
	if !ok {
		return
	}
	ctx := r.Context()
	switch r.PostFormValue("decision") {
	case "allow":
		if err := h.svc.GrantConsent(ctx, acct.ID, c.ID, a.Scopes); err != nil {
			h.web.Error(w, r, err)
			return
		}
		if err := h.svc.MarkDone(ctx, a.ID); err != nil {
			h.authError(w, r, err)
			return
		}
		h.continueTo(w, r, callbackPath+"?"+url.Values{"id": {a.ID}}.Encode(), c.Name, true)
	case "deny":
		if err := h.svc.DenyConsent(ctx, acct.ID, c.ID, a.ID); err != nil {
			h.web.Error(w, r, err)
			return
		}
		e := oidc.ErrAccessDenied().WithDescription("the person did not agree to share their information")
		e.State = a.State
		target, err := op.AuthResponseURL(a.RedirectURI, a.ResponseType, a.ResponseMode, e, h.provider.Encoder())
		if err != nil {
			h.web.Error(w, r, err)
			return
		}
		h.continueTo(w, r, target, c.Name, true)
	default:
		h.errorPage(w, r, http.StatusBadRequest, "oidc.error.request", "")
	}
}

type logoutView struct {
	Ticket     string
	ClientName string
}

func (h *handlers) logoutForm(w http.ResponseWriter, r *http.Request) {
	t, ok := h.svc.OpenLogoutTicket(r.URL.Query().Get("t"))
	if !ok {
		h.errorPage(w, r, http.StatusBadRequest, "oidc.error.expired", "")
		return
	}
	if sess, _ := fullSession(r); sess == nil {
		// Already signed out (in another tab, say): nothing to ask.
		http.Redirect(w, r, t.Redirect, http.StatusFound)
		return
	}
	name := ""
	if c, err := h.svc.ClientByID(r.Context(), t.ClientID); err == nil {
		name = c.Name
	}
	w.Header().Set("Cache-Control", "no-store")
	p := h.web.Renderer().NewPage(r, logoutView{Ticket: r.URL.Query().Get("t"), ClientName: name})
	h.web.Page(w, r, http.StatusOK, "oidc_logout", p)
}

func (h *handlers) logout(w http.ResponseWriter, r *http.Request) {
	t, ok := h.svc.OpenLogoutTicket(r.PostFormValue("t"))
	if !ok {
		h.errorPage(w, r, http.StatusBadRequest, "oidc.error.expired", "")
		return
	}
	if r.PostFormValue("decision") == "signout" {
		if sess, acct := fullSession(r); sess != nil {
			info := &oidcsvc.BrowserSession{Session: sess, Account: acct}
			if ck, err := r.Cookie(h.idw.CookieName()); err == nil {
				info.Token = ck.Value
			}
			if err := h.svc.EndSession(r.Context(), info, t.ClientID); err != nil {
				h.web.Error(w, r, err)
				return
			}
			h.clearCookie(w)
		}
	}
	h.continueTo(w, r, t.Redirect, "", true)
}
