package oidc_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestBadInput: mistakes in requests get OAuth errors (or Portico's error
// page when the client cannot be trusted with a redirect), never a 500.
func TestBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)
		pub, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "Phone app", Grant: oidc.GrantAuthorizationCode,
			Public: true, RedirectURIs: []string{"http://127.0.0.1/callback"}})
		if err != nil {
			t.Fatal(err)
		}
		_, challenge := pkce()
		base := func(client, redirect string, extra ...string) string {
			q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s1"}}
			for i := 0; i+1 < len(extra); i += 2 {
				q.Set(extra[i], extra[i+1])
			}
			return "/oauth/authorize?" + q.Encode()
		}
		_ = challenge
		authorize := []struct {
			name     string
			path     string
			status   int
			location string // prefix of the redirect with the error, if any
			body     string
		}{
			{"unknown client", base("pc_nobody", rpCallback), 400, "", "This sign-in request cannot continue"},
			{"wrong redirect_uri", base(reg.ID, "https://evil.example/cb"), 400, "", "redirect_uri"},
			{"no redirect_uri", "/oauth/authorize?client_id=" + reg.ID + "&response_type=code&scope=openid", 400, "", ""},
			{"no client_id", "/oauth/authorize?response_type=code&scope=openid", 400, "", ""},
			{"public client without PKCE", base(pub.ID, "http://127.0.0.1/callback"), 302, "http://127.0.0.1/callback?error=invalid_request", ""},
			{"plain PKCE", base(reg.ID, rpCallback, "code_challenge", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq", "code_challenge_method", "plain"), 302, rpCallback + "?error=invalid_request", ""},
			{"no openid scope", base(reg.ID, rpCallback, "scope", "profile"), 302, rpCallback + "?error=invalid_scope", ""},
			{"form_post", base(reg.ID, rpCallback, "response_mode", "form_post"), 302, "", ""},
			{"implicit", base(reg.ID, rpCallback, "response_type", "id_token"), 400, "", "redirect_uri"},
			{"bad prompt", base(reg.ID, rpCallback, "prompt", "none login"), 302, rpCallback + "?error=invalid_request", ""},
			{"unparseable query", "/oauth/authorize?client_id=%zz", 400, "", ""},
			{"huge state", base(reg.ID, rpCallback, "state", strings.Repeat("x", 5000)), 302, rpCallback + "?error=invalid_request", ""},
			{"unknown auth request at login", "/oauth/login?id=nope", 400, "", "expired"},
			{"unknown auth request at callback", "/oauth/authorize/callback?id=nope", 400, "", ""},
			{"callback without id", "/oauth/authorize/callback", 400, "", ""},
			{"unknown consent", "/oauth/consent?id=nope", 400, "", ""},
			{"bad logout ticket", "/oauth/logout?t=v1.AAAA", 400, "", ""},
		}
		b := s.browser(t)
		for _, tt := range authorize {
			r := b.get(tt.path)
			if r.status != tt.status || !strings.HasPrefix(r.location, tt.location) || !strings.Contains(r.body, tt.body) {
				t.Errorf("%s: %d %q\n%.500s", tt.name, r.status, r.location, r.body)
			}
		}

		// Token endpoint.
		token := []struct {
			name       string
			form       url.Values
			user, pass string
			status     int
			errCode    string
		}{
			{"no grant_type", url.Values{}, reg.ID, reg.Secret, 400, "invalid_request"},
			{"unsupported grant", url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, reg.ID, reg.Secret, 400, "unsupported_grant_type"},
			{"device grant", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, reg.ID, reg.Secret, 400, "unsupported_grant_type"},
			{"garbage code", url.Values{"grant_type": {"authorization_code"}, "code": {"garbage"}, "redirect_uri": {rpCallback}}, reg.ID, reg.Secret, 400, "invalid_grant"},
			{"missing code", url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {rpCallback}}, reg.ID, reg.Secret, 400, "invalid_request"},
			{"jwt-bearer", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"a.b.c"}}, "", "", 400, ""},
			{"token exchange", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}}, reg.ID, reg.Secret, 400, "unsupported_grant_type"},
			{"garbage refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("z", 2000)}}, reg.ID, reg.Secret, 400, "invalid_grant"},
			{"refresh without token", url.Values{"grant_type": {"refresh_token"}}, reg.ID, reg.Secret, 400, "invalid_request"},
			{"refresh by unknown client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "pc_nobody", "x", 401, "invalid_client"},
			{"client assertion", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"}}, "", "", 400, "invalid_grant"},
		}
		for _, tt := range token {
			code, r := s.postForm(t, "/oauth/token", tt.form, tt.user, tt.pass)
			if code != tt.status || tt.errCode != "" && r["error"] != tt.errCode {
				t.Errorf("token %s: %d %v, want %d %s", tt.name, code, r, tt.status, tt.errCode)
			}
		}
		// A body that does not parse.
		req, _ := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader("grant_type=%zz"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if code, r := s.send(t, req); code != 400 || r["error"] != "invalid_request" {
			t.Errorf("unparseable body: %d %v", code, r)
		}

		// A real code, exchanged wrongly.
		verifier, opts := pkce()
		cb, _ := s.browser(t).authorize(conf.AuthCodeURL("s", opts...), s.citizen(t, "bad@example.com").Email)
		ex := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {rpCallback}, "code_verifier": {"wrong-verifier-wrong-verifier-wrong-verifier-1"}}
		if code, r := s.postForm(t, "/oauth/token", ex, reg.ID, reg.Secret); code != 400 || r["error"] != "invalid_grant" {
			t.Errorf("wrong verifier: %d %v", code, r)
		}
		// Nor with a wrong secret.
		ex.Set("code_verifier", verifier)
		if code, r := s.postForm(t, "/oauth/token", ex, reg.ID, "wrong"); code != 401 || r["error"] != "invalid_client" {
			t.Errorf("wrong secret: %d %v", code, r)
		}
		// Failed attempts do not spend the code: the client can still
		// exchange it, once.
		if code, r := s.postForm(t, "/oauth/token", ex, reg.ID, reg.Secret); code != 200 {
			t.Errorf("code after failed attempts: %d %v", code, r)
		}
		if code, r := s.postForm(t, "/oauth/token", ex, reg.ID, reg.Secret); code != 400 || r["error"] != "invalid_grant" {
			t.Errorf("code used twice: %d %v", code, r)
		}

		// Other endpoints.
		if code, _ := s.userinfo(t, "not-a-token"); code != http.StatusUnauthorized {
			t.Errorf("userinfo with garbage: %d", code)
		}
		reqNoAuth, _ := http.NewRequest("GET", s.URL+"/oauth/userinfo", nil)
		if code, _ := s.send(t, reqNoAuth); code != http.StatusUnauthorized {
			t.Errorf("userinfo without token: %d", code)
		}
		if code, r := s.postForm(t, "/oauth/introspect", url.Values{"token": {"x"}}, "", ""); code != http.StatusUnauthorized {
			t.Errorf("introspect without client: %d %v", code, r)
		}
		if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {"x"}}, reg.ID, "wrong"); code < 400 || code >= 500 {
			t.Errorf("revoke with wrong secret: %d %v", code, r)
		}
		if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {"unknown"}}, reg.ID, reg.Secret); code != 200 {
			t.Errorf("revoke unknown token: %d %v", code, r)
		}
		for _, q := range []string{
			"id_token_hint=garbage",
			"client_id=pc_nobody",
			"client_id=" + reg.ID + "&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/"),
			"post_logout_redirect_uri=%zz",
		} {
			r := b.get("/oauth/end_session?" + q)
			if r.status < 400 || r.status >= 500 {
				t.Errorf("end_session?%s: %d %q %.300s", q, r.status, r.location, r.body)
			}
		}
	})
}

// TestPublicClientPKCE: a public (native) client needs no secret but must
// prove possession of the PKCE verifier.
func TestPublicClientPKCE(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		pub, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "Fishing Licences", Grant: oidc.GrantAuthorizationCode,
			Public: true, RedirectURIs: []string{rpCallback}})
		if err != nil {
			t.Fatal(err)
		}
		conf := s.oauth2Config(pub)
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		tok := s.flow(t, conf, "pat@example.com")
		if tok.access == "" || tok.refresh == "" {
			t.Fatalf("tokens %+v", tok)
		}
		code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {pub.ID}}, "", "")
		if code != http.StatusOK || r["refresh_token"] == nil {
			t.Fatalf("public refresh: %d %v", code, r)
		}
	})
}

// TestConsentPage: the consent page is in the person's language, lists
// what will be shared, and a refusal reaches the client as access_denied.
func TestConsentPage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		_, conf := s.webClient(t)
		conf.Scopes = []string{"openid", "email", "address"}
		acct := s.citizen(t, "carla@example.com")
		b := s.browser(t)
		_, opts := pkce()
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", "es-MX en"))
		r := b.get(conf.AuthCodeURL("st", opts...))
		r = b.get(r.location)
		expect(t, r, http.StatusSeeOther, "lang=es")
		pu, _ := url.Parse(r.location)
		expect(t, b.get(r.location), http.StatusOK, `lang="es"`) // the sign-in page, in Spanish; the choice is remembered
		r = b.signIn(acct.Email, pu.Query().Get("next"))
		r = b.get(r.location)
		expect(t, r, http.StatusSeeOther, "/oauth/consent?id=")
		consent := r.location
		r = b.get(consent)
		expect(t, r, http.StatusOK, `lang="es"`, "¿Compartir su información con Fishing Licences?", "Su correo electrónico", "Su domicilio")
		if strings.Contains(r.body, "Su fecha de nacimiento") {
			t.Fatal("consent page lists a scope that was not asked for")
		}
		// English on request.
		r = b.get(consent + "&lang=en")
		expect(t, r, http.StatusOK, "Share your information with Fishing Licences?", "Your email address", "Your home address")
		// Someone else cannot answer for this person.
		other := s.browser(t)
		s.citizen(t, "mallory@example.com")
		r = other.signIn("mallory@example.com", "/account")
		id := strings.TrimPrefix(consent, "/oauth/consent?id=")
		r = other.post("/oauth/consent", url.Values{"id": {id}, "decision": {"allow"}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/oauth/login?") {
			t.Fatalf("consent by another person: %d %q", r.status, r.location)
		}
		// Refusal.
		r = b.post("/oauth/consent", url.Values{"id": {id}, "decision": {"deny"}})
		expect(t, r, http.StatusOK, rpCallback+"?error=access_denied")
		if !strings.Contains(r.refresh, "state=st") {
			t.Fatalf("refusal lacks state: %q", r.refresh)
		}
		// The request is over.
		r = b.get(consent)
		expect(t, r, http.StatusBadRequest)
		if !slices.Contains(s.auditActions(t), "oidc.consent.deny") {
			t.Error("refusal not audited")
		}
	})
}

// TestPromptNone: a client may ask silently; without a session the answer
// is login_required, without consent consent_required.
func TestPromptNone(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		_, conf := s.webClient(t)
		b := s.browser(t)
		_, opts := pkce()
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "none"))
		r := b.get(conf.AuthCodeURL("st", opts...))
		r = b.get(r.location)
		expect(t, r, http.StatusFound, rpCallback+"?error=login_required", "state=st")
		acct := s.citizen(t, "nina@example.com")
		b.signIn(acct.Email, "/account")
		r = b.get(conf.AuthCodeURL("st", opts...))
		r = b.get(r.location)
		expect(t, r, http.StatusFound, rpCallback+"?error=consent_required")
		// prompt=login sends a signed-in person to re-authenticate.
		_, opts = pkce()
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
		r = b.get(conf.AuthCodeURL("st", opts...))
		time.Sleep(10 * time.Millisecond)
		r = b.get(r.location)
		expect(t, r, http.StatusSeeOther, "/account/reauth?next=")
	})
}

// TestLogout: RP-initiated logout with an ID token hint ends the Portico
// session and the client's tokens, and returns to a registered URI only.
// Without a hint, the person is asked.
func TestLogout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)
		tok := s.flow(t, conf, "leo@example.com")
		b := tok.browser
		expect(t, b.get("/account"), http.StatusOK)
		q := url.Values{"id_token_hint": {tok.id}, "post_logout_redirect_uri": {rpLoggedOut}, "state": {"bye-1"}}
		r := b.get("/oauth/end_session?" + q.Encode())
		expect(t, r, http.StatusFound, rpLoggedOut+"?state=bye-1")
		if !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "Max-Age=0") {
			t.Errorf("session cookie not cleared: %v", r.header.Values("Set-Cookie"))
		}
		expect(t, b.get("/account"), http.StatusSeeOther, "/sign-in?next=")
		if code, _ := s.userinfo(t, tok.access); code != http.StatusForbidden {
			t.Errorf("access token after logout: %d", code)
		}
		if code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}}, reg.ID, reg.Secret); code != 400 {
			t.Errorf("refresh after logout: %d %v", code, r)
		}

		// Without a hint: the person decides.
		tok = s.flow(t, conf, "lia@example.com")
		b = tok.browser
		r = b.get("/oauth/end_session?" + url.Values{"client_id": {reg.ID}, "post_logout_redirect_uri": {rpLoggedOut}}.Encode())
		expect(t, r, http.StatusFound, "/oauth/logout?t=")
		r = b.get(r.location)
		expect(t, r, http.StatusOK, "Sign out of Portico?", "Fishing Licences")
		ticket := strings.Split(strings.Split(r.body, `name="t" value="`)[1], `"`)[0]
		r = b.post("/oauth/logout", url.Values{"t": {ticket}, "decision": {"stay"}})
		expect(t, r, http.StatusOK, rpLoggedOut)
		expect(t, b.get("/account"), http.StatusOK)
		r = b.post("/oauth/logout", url.Values{"t": {ticket}, "decision": {"signout"}})
		expect(t, r, http.StatusOK, rpLoggedOut)
		expect(t, b.get("/account"), http.StatusSeeOther, "/sign-in?next=")

		// A post-logout URI that is not registered is refused.
		r = b.get("/oauth/end_session?" + url.Values{"client_id": {reg.ID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if r.status != http.StatusBadRequest {
			t.Errorf("unregistered post_logout_redirect_uri: %d %q", r.status, r.location)
		}
		n := 0
		for _, a := range s.auditActions(t) {
			if a == "oidc.logout" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d logouts audited, want 2", n)
		}
	})
}

// TestKeyRotation: after a rotation new tokens use the new key and tokens
// signed with the old one still verify until the old key retires; then it
// leaves the JWKS and rotation drops it.
func TestKeyRotation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)
		old := s.flow(t, conf, "kim@example.com")
		keys, err := s.svc.Keys(context.Background())
		if err != nil || len(keys) != 1 || !keys[0].Active || keys[0].Alg != "ES256" {
			t.Fatalf("keys %+v %v", keys, err)
		}
		res, err := s.svc.RotateKeys(context.Background(), "RS256", true)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Retired) != 1 || res.Retired[0].RetireAfter == nil || res.Active.Alg != "RS256" {
			t.Fatalf("rotation %+v", res)
		}
		if d := res.Retired[0].RetireAfter.Sub(res.Active.CreatedAt); d < s.svc.Config().AccessTokenTTL {
			t.Fatalf("old key retires after %s, before its tokens expire", d)
		}
		fresh := s.flow(t, conf, "kai@example.com")
		if kidOf(t, fresh.id) == kidOf(t, old.id) || kidOf(t, fresh.id) != res.Active.ID {
			t.Fatal("new tokens are not signed with the new key")
		}
		// Both verify: the old key is still published.
		s.verifyIDToken(t, reg.ID, old.id)
		s.verifyIDToken(t, reg.ID, fresh.id)
		if code, _ := s.userinfo(t, old.access); code != http.StatusOK {
			t.Fatalf("old access token after rotation: %d", code)
		}
		b := s.browser(t)
		r := b.get("/oauth/keys")
		expect(t, r, http.StatusOK, `"kid":"`+res.Active.ID+`"`, `"kid":"`+res.Retired[0].ID+`"`, `"alg":"RS256"`, `"alg":"ES256"`)
		// Once its retirement time has passed, the old key is gone.
		if _, err := db.Write().Exec(`UPDATE oidc_keys SET retire_after = $1 WHERE id = $2`, time.Now().Add(-time.Second).UTC(), res.Retired[0].ID); err != nil {
			t.Fatal(err)
		}
		res2, err := s.svc.RotateKeys(context.Background(), "", true)
		if err != nil {
			t.Fatal(err)
		}
		if res2.Dropped != 1 || res2.Active.Alg != "ES256" {
			t.Fatalf("second rotation %+v", res2)
		}
		r = b.get("/oauth/keys")
		if strings.Contains(r.body, res.Retired[0].ID) {
			t.Fatal("retired key still published")
		}
		if code, _ := s.userinfo(t, old.access); code != http.StatusUnauthorized {
			t.Fatalf("token of a dropped key: %d", code)
		}
		if !slices.Contains(s.auditActions(t), "oidc.keys.rotate") {
			t.Error("rotation not audited")
		}
	})
}

// TestKeyPublishedBeforeItSigns: a rotated key is in the JWKS at once
// but signs only from KeyPublishDelay later, so a plug-in that cached the
// key set just before the rotation (and refetches at most once a minute)
// never meets a kid it cannot find; the key in use goes on signing until
// then, in this process too (its cached key set expires at the switch),
// and retires retirementDelay after the switch. --now signs at once.
func TestKeyPublishedBeforeItSigns(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Now().UTC())
		s := newSiteAt(t, db, clock)
		ctx := context.Background()
		sign := func() string {
			t.Helper()
			tok, err := s.svc.SignJWT(ctx, map[string]any{"iss": "x"})
			if err != nil {
				t.Fatal(err)
			}
			return kidOf(t, tok)
		}
		first := sign() // a new installation's first key signs at once
		res, err := s.svc.RotateKeys(ctx, "ES256", false)
		if err != nil {
			t.Fatal(err)
		}
		next := res.Active
		if next.Active || !next.SignFrom.Equal(next.CreatedAt.Add(oidc.KeyPublishDelay)) {
			t.Fatalf("rotated key %+v: want published, signing from %s later", next, oidc.KeyPublishDelay)
		}
		if len(res.Retired) != 1 || res.Retired[0].ID != first || !res.Retired[0].RetireAfter.After(next.SignFrom) {
			t.Fatalf("the signing key must outlive the switch: %+v", res.Retired)
		}
		if d := res.Retired[0].RetireAfter.Sub(next.SignFrom); d < s.svc.Config().AccessTokenTTL {
			t.Fatalf("old key retires %s after the switch, before its last tokens expire", d)
		}
		set, err := s.svc.PublicKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Key(next.ID)) != 1 || len(set.Key(first)) != 1 {
			t.Fatalf("the JWKS must publish both keys now: %+v", set)
		}
		if got := sign(); got != first {
			t.Fatalf("signed with %s before the new key's time; want %s", got, first)
		}
		clock.Advance(oidc.KeyPublishDelay - time.Second)
		if got := sign(); got != first {
			t.Fatalf("signed with %s a second before the switch", got)
		}
		clock.Advance(time.Second) // the cached set (loaded 1 s ago) expires at the switch
		if got := sign(); got != next.ID {
			t.Fatalf("signed with %s at the switch; want the new key %s", got, next.ID)
		}
		keys, err := s.svc.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Active != (k.ID == next.ID) {
				t.Fatalf("after the switch: %+v", keys)
			}
		}
		// A leaked key is replaced at once.
		now, err := s.svc.RotateKeys(ctx, "RS256", true)
		if err != nil {
			t.Fatal(err)
		}
		if !now.Active.Active || !now.Active.SignFrom.Equal(now.Active.CreatedAt) {
			t.Fatalf("--now key %+v", now.Active)
		}
		if got := sign(); got != now.Active.ID {
			t.Fatalf("signed with %s after an immediate rotation; want %s", got, now.Active.ID)
		}
	})
}

// TestFirstKeyOnce: many requests at once on a new installation make one
// signing key, so the JWKS fetched at any moment holds the key every
// token is then signed with.
func TestFirstKeyOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		ctx := context.Background()
		var wg sync.WaitGroup
		sets := make([]jose.JSONWebKeySet, 16)
		errs := make([]error, len(sets))
		for i := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sets[i], errs[i] = s.svc.PublicKeys(ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
			if len(sets[i].Keys) != 1 {
				t.Fatalf("request %d saw %d keys", i, len(sets[i].Keys))
			}
		}
		keys, err := s.svc.Keys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys made on a new installation (%v)", len(keys), err)
		}
	})
}

func kidOf(t testing.TB, jwt string) string {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	raw, err := decodeSegment(h)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(raw), `"kid":"`)
	kid, _, _ := strings.Cut(rest, `"`)
	return kid
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// TestSinglePageAppCrossOrigin: a browser app on another origin (a public
// client with PKCE) may call the token and revocation endpoints, with the
// CORS answers it needs; every other unsafe request from another origin is
// still refused by the shell's cross-origin protection.
func TestSinglePageAppCrossOrigin(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		pub, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "Fishing Licences", Grant: oidc.GrantAuthorizationCode,
			Public: true, RedirectURIs: []string{rpCallback}})
		if err != nil {
			t.Fatal(err)
		}
		conf := s.oauth2Config(pub)
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		tok := s.flow(t, conf, "spa@example.com")
		second := s.flow(t, conf, "spa2@example.com")
		const app = "https://wallet.example.org"
		tests := []struct {
			name   string
			method string
			path   string
			form   url.Values
			status int
			cors   bool // the answer must allow the app's origin to read it
		}{
			{"preflight for the token endpoint", "OPTIONS", "/oauth/token", nil, http.StatusNoContent, true},
			{"refresh from the app", "POST", "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {pub.ID}}, http.StatusOK, true},
			{"no client, no token: the endpoint says so", "POST", "/oauth/token", url.Values{"grant_type": {"refresh_token"}}, http.StatusBadRequest, true},
			{"preflight for revocation", "OPTIONS", "/oauth/revoke", nil, http.StatusNoContent, true},
			{"revocation from the app", "POST", "/oauth/revoke", url.Values{"token": {second.refresh}, "token_type_hint": {"refresh_token"}, "client_id": {pub.ID}}, http.StatusOK, true},
			{"introspection stays same-origin", "POST", "/oauth/introspect", url.Values{"token": {tok.access}}, http.StatusForbidden, false},
			{"consent stays same-origin", "POST", "/oauth/consent", url.Values{"id": {"x"}, "decision": {"allow"}}, http.StatusForbidden, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var body io.Reader
				if tt.form != nil {
					body = strings.NewReader(tt.form.Encode())
				}
				req, _ := http.NewRequest(tt.method, s.URL+tt.path, body)
				req.Header.Set("Origin", app)
				req.Header.Set("Sec-Fetch-Site", "cross-site")
				if tt.method == "OPTIONS" {
					req.Header.Set("Access-Control-Request-Method", "POST")
					req.Header.Set("Access-Control-Request-Headers", "content-type")
				} else {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
				}
				allow := resp.Header.Get("Access-Control-Allow-Origin")
				if tt.cors && allow != "*" && allow != app {
					t.Fatalf("Access-Control-Allow-Origin = %q", allow)
				}
				if resp.Header.Get("Access-Control-Allow-Credentials") == "true" {
					t.Fatal("credentials allowed cross-origin")
				}
			})
		}
		// The revoked grant is dead.
		code, _ := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.refresh}, "client_id": {pub.ID}}, "", "")
		if code != http.StatusBadRequest {
			t.Fatalf("refresh after revocation: %d", code)
		}
	})
}
