package oidc

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

//go:embed templates/*.html
var templates embed.FS

// Paths. The protocol endpoints are served by zitadel/oidc's provider;
// the others are Portico's pages around it.
const (
	discoveryPath   = "/.well-known/openid-configuration"
	authorizePath   = "/oauth/authorize"
	callbackPath    = "/oauth/authorize/callback"
	tokenPath       = "/oauth/token"
	introspectPath  = "/oauth/introspect"
	revokePath      = "/oauth/revoke"
	userinfoPath    = "/oauth/userinfo"
	endSessionPath  = "/oauth/end_session"
	keysPath        = "/oauth/keys"
	loginPath       = "/oauth/login"
	consentPath     = "/oauth/consent"
	logoutPath      = "/oauth/logout"
	viaFormParam    = "via"
	viaFormValue    = "form"
	logoutSealLabel = "oidc-logout"
)

// handlers serves the provider and its pages.
type handlers struct {
	svc      *Service
	web      *web.Server
	idw      *identityweb.Handlers
	provider *op.Provider
}

// boxCrypto is the provider's Crypto (authorization codes are
// Encrypt(auth request id)): internal/secrets' AES-GCM box, so every
// replica that shares DATA/keys/secrets.key shares it.
type boxCrypto struct{ s *Service }

func (c boxCrypto) Encrypt(s string) (string, error) { return c.s.box.Seal(s, "oidc-code") }
func (c boxCrypto) Decrypt(s string) (string, error) { return c.s.box.Open(s, "oidc-code") }

// verifyKeySet checks signatures of tokens Portico issued (access tokens
// at userinfo, ID token hints at logout) against the published keys,
// reloading them once when a key id is unknown: another replica may have
// rotated within the cache period.
type verifyKeySet struct{ s *Service }

func (v verifyKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	kid, alg := oidc.GetKeyIDAndAlg(jws)
	for attempt := 0; ; attempt++ {
		ring, err := v.s.loadKeys(ctx, attempt == 1)
		if err != nil {
			return nil, err
		}
		keys := make([]jose.JSONWebKey, 0, len(ring.all))
		for _, k := range ring.all {
			keys = append(keys, jose.JSONWebKey{KeyID: k.id, Algorithm: string(k.alg), Use: "sig", Key: k.private.Public()})
		}
		key, err := oidc.FindMatchingKey(kid, oidc.KeyUseSignature, alg, keys...)
		if err == nil {
			return jws.Verify(&key)
		}
		if attempt == 1 || time.Since(ring.loadedAt) < time.Second {
			return nil, err
		}
	}
}

// Register mounts the provider and its pages on s. Every path is
// registered explicitly, so it is listed in s.Routes() and in the
// authorization table. idw gives the signed-in session (identityweb
// must be registered first).
func Register(s *web.Server, svc *Service, idw *identityweb.Handlers) error {
	if err := s.Renderer().AddPages(templates, "templates/page_*.html"); err != nil {
		return err
	}
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(authorizePath), op.NewEndpoint(tokenPath), op.NewEndpoint(userinfoPath),
			op.NewEndpoint(revokePath), op.NewEndpoint(endSessionPath), op.NewEndpoint(keysPath)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(introspectPath)),
		op.WithCrypto(boxCrypto{svc}),
		op.WithAccessTokenKeySet(verifyKeySet{svc}),
		op.WithIDTokenHintKeySet(verifyKeySet{svc}),
		// Cross-origin reads of discovery, keys and userinfo, without
		// credentials: nothing here authenticates by cookie.
		op.WithCORSOptions(&cors.Options{
			AllowedOrigins: []string{"*"}, AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"}, AllowCredentials: false,
		}),
	}
	if strings.HasPrefix(svc.cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure()) // development and the demo only; https in production
	}
	provider, err := op.NewProvider(&op.Config{
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		DefaultLogoutRedirectURI: svc.cfg.Issuer + "/",
		SupportedUILocales:       []language.Tag{language.English, language.Spanish},
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress,
			ScopeBirthdate, ScopeApplications, oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash",
			"name", "locale", "email", "email_verified", "phone_number", "address", "birthdate"},
	}, svc, op.StaticIssuer(svc.cfg.Issuer), opts...)
	if err != nil {
		return fmt.Errorf("oidc: provider: %w", err)
	}
	h := &handlers{svc: svc, web: s, idw: idw, provider: provider}
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
	s.HandleFunc("GET "+loginPath, h.login)
	s.HandleFunc("GET "+consentPath, h.consentForm)
	s.HandleFunc("POST "+consentPath, h.consent)
	s.HandleFunc("GET "+logoutPath, h.logoutForm)
	s.HandleFunc("POST "+logoutPath, h.logout)
	s.Handle("GET "+connectionsPath, idw.RequireSignedIn(h.connections))
	s.Handle("POST "+connectionsPath+"/withdraw", idw.RequireSignedIn(h.withdraw))
	return nil
}

// sessionInfo is the browser's Portico session, carried to the storage
// methods the provider calls (logout) through the request context.
type sessionInfo struct {
	token   string
	session *identity.Session
	account *identity.Account
	ended   bool // the session was signed out; the cookie must go
}

type sessionKey struct{}

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
	info := &sessionInfo{}
	if sess, a := identityweb.Current(r); sess != nil && sess.Stage == identity.StageFull {
		info.session, info.account = sess, a
		if ck, err := r.Cookie(h.idw.CookieName()); err == nil {
			info.token = ck.Value
		}
	}
	r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, info))
	if r.URL.Path == authorizePath || r.URL.Path == callbackPath {
		cw := &captureWriter{ResponseWriter: w}
		h.provider.ServeHTTP(cw, r)
		if cw.captured {
			h.errorPage(w, r, http.StatusBadRequest, "oidc.error.request", strings.TrimSpace(cw.buf.String()))
		}
		return
	}
	if r.URL.Path == endSessionPath {
		w = &cookieClearer{ResponseWriter: w, info: info, h: h}
	}
	if r.URL.Path == discoveryPath {
		h.discovery(w, r)
		return
	}
	h.provider.ServeHTTP(w, r)
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
	info *sessionInfo
	h    *handlers
	done bool
}

func (c *cookieClearer) WriteHeader(code int) {
	if !c.done && c.info.ended {
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

// amrOf maps a Portico sign-in method to RFC 8176 values.
func amrOf(method string) []string {
	switch {
	case strings.Contains(method, "passkey"):
		return []string{"hwk", "user"}
	case strings.Contains(method, "totp"):
		return []string{"pwd", "otp", "mfa"}
	case strings.Contains(method, "recovery"):
		return []string{"pwd", "mfa"}
	}
	return []string{"pwd"}
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
	a, err := h.svc.loadAuthRequest(ctx, h.svc.db.Read(), q.Get("id"))
	if err != nil {
		h.authError(w, r, err)
		return
	}
	c, err := h.svc.client(ctx, a.ClientID)
	if err != nil {
		h.authError(w, r, err)
		return
	}
	afterForm := q.Get(viaFormParam) == viaFormValue
	sess, acct := fullSession(r)
	now := h.svc.clock.Now()
	fresh := sess != nil && (!sess.AuthenticatedAt.Before(a.CreatedAt) || a.MaxAge == nil && !a.hasPrompt(oidc.PromptLogin) ||
		a.MaxAge != nil && now.Sub(sess.AuthenticatedAt) <= time.Duration(*a.MaxAge)*time.Second)
	if !fresh {
		if a.hasPrompt(oidc.PromptNone) {
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
	if err := h.svc.bind(ctx, a, sess, acct); err != nil {
		h.authError(w, r, err)
		return
	}
	granted, err := h.svc.consented(ctx, acct.ID, c.ID)
	if err != nil {
		h.authError(w, r, err)
		return
	}
	if !covers(granted, a.Scopes) || a.hasPrompt(oidc.PromptConsent) {
		if a.hasPrompt(oidc.PromptNone) {
			op.AuthRequestError(w, r, a, &oidc.Error{ErrorType: "consent_required", Description: "the person has not consented to these scopes"}, h.provider)
			return
		}
		http.Redirect(w, r, consentPath+"?"+url.Values{"id": {a.ID}}.Encode(), http.StatusSeeOther)
		return
	}
	if err := h.svc.markDone(ctx, a.ID); err != nil {
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
		{ScopeBirthdate, "oidc.consent.item.birthdate"},
		{ScopeApplications, "oidc.consent.item.applications"},
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
func (h *handlers) consentRequest(w http.ResponseWriter, r *http.Request, id string) (*authRequest, *Client, *identity.Account, bool) {
	ctx := r.Context()
	a, err := h.svc.loadAuthRequest(ctx, h.svc.db.Read(), id)
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
	c, err := h.svc.client(ctx, a.ClientID)
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
		if err := h.svc.grantConsent(ctx, acct.ID, c.ID, a.Scopes); err != nil {
			h.web.Error(w, r, err)
			return
		}
		if err := h.svc.markDone(ctx, a.ID); err != nil {
			h.authError(w, r, err)
			return
		}
		h.continueTo(w, r, callbackPath+"?"+url.Values{"id": {a.ID}}.Encode(), c.Name, true)
	case "deny":
		if err := h.svc.denyConsent(ctx, acct.ID, c.ID, a.ID); err != nil {
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

// logoutTicket is what the logout confirmation page carries, sealed, from
// the end_session request to the person's answer.
type logoutTicket struct {
	Redirect  string    `json:"r"`
	ClientID  string    `json:"c"`
	AccountID string    `json:"a"`
	Expires   time.Time `json:"e"`
}

func (s *Service) sealTicket(t logoutTicket) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	return s.box.Seal(string(b), logoutSealLabel)
}

func (s *Service) openTicket(sealed string) (*logoutTicket, bool) {
	if sealed == "" || len(sealed) > 4000 {
		return nil, false
	}
	raw, err := s.box.Open(sealed, logoutSealLabel)
	if err != nil {
		return nil, false
	}
	var t logoutTicket
	if json.Unmarshal([]byte(raw), &t) != nil || !s.clock.Now().Before(t.Expires) {
		return nil, false
	}
	return &t, true
}

// TerminateSessionFromRequest implements op.CanTerminateSessionFromRequest
// (RP-initiated logout; the library has already checked
// post_logout_redirect_uri against the client's registered list). When
// the browser's Portico session belongs to the person named by a valid
// id_token_hint, the session ends here and the client's tokens for that
// person are revoked. A session without such a hint is not ended behind
// the person's back: they are asked first (logout.go's page), since any
// site can link to this endpoint. Without a session there is nothing to
// end, and the client's tokens for the hinted person are revoked.
func (s *Service) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	info, _ := ctx.Value(sessionKey{}).(*sessionInfo)
	if info != nil && info.session != nil {
		if req.UserID != "" && req.UserID == info.account.ID {
			if err := s.endSession(ctx, info, req.ClientID); err != nil {
				return "", err
			}
			return req.RedirectURI, nil
		}
		t, err := s.sealTicket(logoutTicket{Redirect: req.RedirectURI, ClientID: req.ClientID, Expires: s.clock.Now().Add(30 * time.Minute)})
		if err != nil {
			return "", err
		}
		return logoutPath + "?" + url.Values{"t": {t}}.Encode(), nil
	}
	if err := s.logoutAudit(ctx, req.UserID, req.ClientID, false); err != nil {
		return "", err
	}
	return req.RedirectURI, nil
}

// endSession signs the browser's session out and records the logout.
func (s *Service) endSession(ctx context.Context, info *sessionInfo, clientID string) error {
	if info.token != "" {
		if err := s.accounts.SignOut(ctx, info.token); err != nil {
			return err
		}
	}
	info.ended = true
	return s.logoutAudit(ctx, info.account.ID, clientID, true)
}

type logoutView struct {
	Ticket     string
	ClientName string
}

func (h *handlers) logoutForm(w http.ResponseWriter, r *http.Request) {
	t, ok := h.svc.openTicket(r.URL.Query().Get("t"))
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
	if c, err := h.svc.client(r.Context(), t.ClientID); err == nil {
		name = c.Name
	}
	w.Header().Set("Cache-Control", "no-store")
	p := h.web.Renderer().NewPage(r, logoutView{Ticket: r.URL.Query().Get("t"), ClientName: name})
	h.web.Page(w, r, http.StatusOK, "oidc_logout", p)
}

func (h *handlers) logout(w http.ResponseWriter, r *http.Request) {
	t, ok := h.svc.openTicket(r.PostFormValue("t"))
	if !ok {
		h.errorPage(w, r, http.StatusBadRequest, "oidc.error.expired", "")
		return
	}
	if r.PostFormValue("decision") == "signout" {
		if sess, acct := fullSession(r); sess != nil {
			info := &sessionInfo{session: sess, account: acct}
			if ck, err := r.Cookie(h.idw.CookieName()); err == nil {
				info.token = ck.Value
			}
			if err := h.svc.endSession(r.Context(), info, t.ClientID); err != nil {
				h.web.Error(w, r, err)
				return
			}
			h.clearCookie(w)
		}
	}
	h.continueTo(w, r, t.Redirect, "", true)
}

// actorFor returns ctx acting as the account (for audit) unless an actor
// is already set.
func actorFor(ctx context.Context, accountID string) context.Context {
	if platform.ActorFrom(ctx).Kind != platform.ActorAnonymous || accountID == "" {
		return ctx
	}
	return platform.WithActor(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: accountID})
}
