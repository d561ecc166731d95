package oidc_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/identity/identityweb"
	"github.com/portico-gov/portico/internal/identity/password"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/oidc/oidcweb"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/web"
)

// site is Portico with identity and the OpenID Provider, served over real
// loopback HTTP at its issuer URL.
type site struct {
	URL   string
	db    *storage.DB
	ids   *identity.Service
	svc   *oidc.Service
	audit *audit.Log
}

type nopMailer struct{}

func (nopMailer) SendEmail(context.Context, *sql.Tx, identity.Message) error { return nil }

func newSite(t testing.TB, db *storage.DB) *site {
	t.Helper()
	return newSiteAt(t, db, platform.SystemClock{})
}

// newSiteAt is newSite with every block reading time from clock.
func newSiteAt(t testing.TB, db *storage.DB, clock platform.Clock) *site {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	log := audit.New(db, clock, nil)
	box, err := secrets.LoadOrCreate(filepath.Join(t.TempDir(), "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, ten); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ids, err := identity.New(identity.Config{PublicURL: issuer, PasswordParams: password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}},
		db, log, clock, box, nopMailer{}, ten)
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	idw, err := identityweb.Register(s, ids, identityweb.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := oidc.New(oidc.Config{Issuer: issuer}, db, log, clock, box, ids)
	if err != nil {
		t.Fatal(err)
	}
	if err := oidcweb.Register(s, svc, idw); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &site{URL: issuer, db: db, ids: ids, svc: svc, audit: log}
}

const citizenPassword = "mauve otter rain 1987"

// citizen creates a signed-up citizen with a profile.
func (s *site) citizen(t testing.TB, email string) *identity.Account {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	a, err := s.ids.CreateCitizen(ctx, identity.NewCitizen{Email: email, LegalName: "Ana Citizen", Password: citizenPassword,
		Profile: &identity.Profile{LegalName: "Ana Citizen", Lang: "es", Phone: "+1 555 0100", DateOfBirth: "1980-02-03",
			Residential: identity.Address{Line1: "12 Elm St", City: "Springfield", State: "EX", ZIP: "70101"}}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const rpCallback = "http://127.0.0.1:9/callback"
const rpLoggedOut = "http://127.0.0.1:9/bye"

// webClient registers a confidential authorization_code client.
func (s *site) webClient(t testing.TB) (*oidc.Registered, *oauth2.Config) {
	t.Helper()
	reg, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "Fishing Licences", Grant: oidc.GrantAuthorizationCode,
		RedirectURIs: []string{rpCallback}, PostLogoutURIs: []string{rpLoggedOut}, AgencyID: "fish-wildlife"})
	if err != nil {
		t.Fatal(err)
	}
	return reg, s.oauth2Config(reg)
}

func (s *site) oauth2Config(reg *oidc.Registered) *oauth2.Config {
	return &oauth2.Config{
		ClientID: reg.ID, ClientSecret: reg.Secret, RedirectURL: rpCallback,
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/oauth/authorize", TokenURL: s.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "email", "offline_access"},
	}
}

// browser keeps cookies and does not follow redirects, so each step of a
// flow can be checked.
type browser struct {
	t    testing.TB
	site *site
	c    *http.Client
}

func (s *site) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, site: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status   int
	location string
	refresh  string
	body     string
	header   http.Header
}

func (b *browser) do(method, u string, form url.Values) resp {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.site.URL + u
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, location: r.Header.Get("Location"), refresh: r.Header.Get("Refresh"), body: string(raw), header: r.Header}
}

func (b *browser) get(u string) resp                   { return b.do("GET", u, nil) }
func (b *browser) post(u string, form url.Values) resp { return b.do("POST", u, form) }

func expect(t testing.TB, r resp, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (location %q)\n%.2000s", r.status, status, r.location, r.body)
	}
	for _, c := range contains {
		if !strings.Contains(r.body, c) && !strings.Contains(r.location, c) && !strings.Contains(r.refresh, c) {
			t.Fatalf("response lacks %q (location %q)\n%.3000s", c, r.location, r.body)
		}
	}
}

// next returns where r sends the browser: a redirect's Location or a
// continue page's Refresh target.
func next(t testing.TB, r resp) string {
	t.Helper()
	if r.location != "" {
		return r.location
	}
	if _, target, ok := strings.Cut(r.refresh, "url="); ok {
		return target
	}
	t.Fatalf("response %d goes nowhere\n%.2000s", r.status, r.body)
	return ""
}

// signIn posts the sign-in form as the citizen.
func (b *browser) signIn(email, nextURL string) resp {
	return b.post("/sign-in", url.Values{"email": {email}, "password": {citizenPassword}, "next": {nextURL}})
}

// authorize starts an authorization request and follows it until it
// reaches the relying party's callback, signing in and consenting
// (allow) when asked. It returns the callback URL and how many consent
// pages were shown.
func (b *browser) authorize(authURL, email string) (*url.URL, int) {
	b.t.Helper()
	consents := 0
	u := authURL
	for range 12 {
		if strings.HasPrefix(u, rpCallback) || strings.HasPrefix(u, rpLoggedOut) {
			cb, err := url.Parse(u)
			if err != nil {
				b.t.Fatal(err)
			}
			return cb, consents
		}
		path := strings.TrimPrefix(u, b.site.URL)
		var r resp
		switch {
		case strings.HasPrefix(path, "/sign-in?"):
			pu, _ := url.Parse(path)
			r = b.signIn(email, pu.Query().Get("next"))
			expect(b.t, r, http.StatusSeeOther)
		case strings.HasPrefix(path, "/oauth/consent?"):
			r = b.get(path)
			expect(b.t, r, http.StatusOK, "Fishing Licences", `name="decision" value="allow"`)
			consents++
			pu, _ := url.Parse(path)
			r = b.post("/oauth/consent", url.Values{"id": {pu.Query().Get("id")}, "decision": {"allow"}})
			expect(b.t, r, http.StatusOK, "/oauth/authorize/callback?id=")
		default:
			r = b.get(path)
		}
		if r.status >= 400 {
			b.t.Fatalf("GET %s: %d\n%.2000s", path, r.status, r.body)
		}
		u = next(b.t, r)
	}
	b.t.Fatalf("authorization did not reach the callback")
	return nil, 0
}

// pkce returns a verifier and the authorization URL options that send its
// S256 challenge.
func pkce() (string, []oauth2.AuthCodeOption) {
	v := oauth2.GenerateVerifier()
	return v, []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
}

// flow runs a whole authorization code flow with PKCE for a new citizen
// and returns the tokens.
type tokens struct {
	access, refresh, id string
	account             *identity.Account
	browser             *browser
}

func (s *site) flow(t testing.TB, conf *oauth2.Config, email string) tokens {
	t.Helper()
	acct := s.citizen(t, email)
	b := s.browser(t)
	verifier, opts := pkce()
	opts = append(opts, oauth2.SetAuthURLParam("nonce", "n-0S6_WzA2Mj"))
	cb, _ := b.authorize(conf.AuthCodeURL("st-123", opts...), email)
	if cb.Query().Get("state") != "st-123" || cb.Query().Get("code") == "" {
		t.Fatalf("callback %s", cb)
	}
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := tok.Extra("id_token").(string)
	return tokens{access: tok.AccessToken, refresh: tok.RefreshToken, id: id, account: acct, browser: b}
}

// verifyIDToken checks an ID token as a relying party would.
func (s *site) verifyIDToken(t testing.TB, clientID, token string) *zoidc.IDTokenClaims {
	t.Helper()
	ks := rp.NewRemoteKeySet(http.DefaultClient, s.URL+"/oauth/keys")
	v := rp.NewIDTokenVerifier(s.URL, clientID, ks, rp.WithSupportedSigningAlgorithms("ES256", "RS256"),
		rp.WithNonce(func(context.Context) string { return "n-0S6_WzA2Mj" }))
	claims, err := rp.VerifyIDToken[*zoidc.IDTokenClaims](context.Background(), token, v)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	return claims
}

// postForm posts a form to a protocol endpoint as a server-side client
// would (no browser headers), with optional basic auth.
func (s *site) postForm(t testing.TB, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return s.send(t, req)
}

func (s *site) send(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"_raw": string(raw)}
	}
	return r.StatusCode, out
}

// userinfo calls the userinfo endpoint with a bearer token.
func (s *site) userinfo(t testing.TB, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/oauth/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return s.send(t, req)
}

// auditActions returns the actions in the audit log, in order.
func (s *site) auditActions(t testing.TB) []string {
	t.Helper()
	entries, err := s.audit.List(context.Background(), audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}
