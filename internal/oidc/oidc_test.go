package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestAuthorizationCodeFlow is the whole flow a relying party sees:
// discovery, authorize with PKCE, Portico's own sign-in, consent, code
// exchange, ID token verification, userinfo; then a second authorization
// that is not asked for consent again.
func TestAuthorizationCodeFlow(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)

		// Discovery names Portico's endpoints and what it supports.
		b := s.browser(t)
		r := b.get("/.well-known/openid-configuration")
		expect(t, r, http.StatusOK, `"issuer":"`+s.URL+`"`, `"authorization_endpoint":"`+s.URL+`/oauth/authorize"`,
			`"token_endpoint":"`+s.URL+`/oauth/token"`, `"userinfo_endpoint":"`+s.URL+`/oauth/userinfo"`,
			`"end_session_endpoint":"`+s.URL+`/oauth/end_session"`, `"jwks_uri":"`+s.URL+`/oauth/keys"`, `"S256"`, `"ES256"`,
			`"client_credentials"`, `"refresh_token"`)
		if strings.Contains(r.body, "device_authorization") {
			t.Error("discovery offers the device grant, which Portico does not serve")
		}

		// First authorization: sign in, then the consent page (Spanish when
		// the person's browser asks for it is covered in TestConsentPage).
		acct := s.citizen(t, "ana@example.com")
		verifier, opts := pkce()
		opts = append(opts, oauth2.SetAuthURLParam("nonce", "n-0S6_WzA2Mj"))
		authURL := conf.AuthCodeURL("st-1", opts...)
		r = b.get(authURL)
		expect(t, r, http.StatusFound, "/oauth/login?id=")
		r = b.get(r.location)
		expect(t, r, http.StatusSeeOther, "/sign-in?next=")
		cb, consents := b.authorize(authURL, "ana@example.com")
		if consents != 1 || cb.Query().Get("state") != "st-1" || cb.Query().Get("code") == "" {
			t.Fatalf("callback %s after %d consent pages", cb, consents)
		}
		tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken == "" || tok.TokenType != "Bearer" {
			t.Fatalf("token response %+v", tok)
		}
		idToken, _ := tok.Extra("id_token").(string)
		claims := s.verifyIDToken(t, reg.ID, idToken)
		if claims.Subject != acct.ID || claims.AuthTime == 0 || !slices.Contains(claims.AuthenticationMethodsReferences, "pwd") {
			t.Fatalf("ID token claims %+v", claims)
		}

		// The code works once.
		if _, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil ||
			!strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("second exchange: %v", err)
		}
		// ... and its replay revoked what it issued.
		if code, _ := s.userinfo(t, tok.AccessToken); code != http.StatusForbidden {
			t.Fatalf("userinfo after code replay: %d", code)
		}

		// Second authorization by the same browser: remembered consent, no
		// sign-in page, straight back to the relying party.
		verifier, opts = pkce()
		authURL = conf.AuthCodeURL("st-2", opts...)
		cb, consents = b.authorize(authURL, "ana@example.com")
		if consents != 0 || cb.Query().Get("state") != "st-2" {
			t.Fatalf("second authorization: %s after %d consent pages", cb, consents)
		}
		tok, err = conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		code, info := s.userinfo(t, tok.AccessToken)
		if code != http.StatusOK || info["sub"] != acct.ID || info["email"] != "ana@example.com" || info["name"] != "Ana Citizen" ||
			info["locale"] != "es" || info["email_verified"] != true {
			t.Fatalf("userinfo %d %v", code, info)
		}
		for _, claim := range []string{"address", "birthdate", "phone_number"} {
			if _, ok := info[claim]; ok {
				t.Fatalf("userinfo released %s without its scope: %v", claim, info)
			}
		}

		actions := s.auditActions(t)
		for _, want := range []string{"oidc.client.add", "oidc.consent.grant", "oidc.token.issue", "oidc.code.replay"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit log lacks %s: %v", want, actions)
			}
		}
	})
}

// TestUserinfoScopes: each scope releases its claims and no others, and
// only after the person consented to it.
func TestUserinfoScopes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		_, conf := s.webClient(t)
		tests := []struct {
			scopes []string
			want   []string
			absent []string
		}{
			{[]string{"openid"}, []string{"sub"}, []string{"email", "name", "address", "birthdate", "phone_number"}},
			{[]string{"openid", "email"}, []string{"sub", "email", "email_verified"}, []string{"name", "address"}},
			{[]string{"openid", "address", "phone"}, []string{"address", "phone_number"}, []string{"email", "birthdate"}},
			{[]string{"openid", "birthdate"}, []string{"birthdate"}, []string{"address", "phone_number", "name"}},
			{[]string{"openid", "unknown-scope", "profile"}, []string{"name", "locale"}, []string{"email"}},
		}
		for i, tt := range tests {
			c := *conf
			c.Scopes = tt.scopes
			tok := s.flow(t, &c, "scopes"+string(rune('a'+i))+"@example.com")
			code, info := s.userinfo(t, tok.access)
			if code != http.StatusOK {
				t.Fatalf("%v: userinfo %d %v", tt.scopes, code, info)
			}
			for _, k := range tt.want {
				if _, ok := info[k]; !ok {
					t.Errorf("%v: userinfo lacks %s: %v", tt.scopes, k, info)
				}
			}
			for _, k := range tt.absent {
				if _, ok := info[k]; ok {
					t.Errorf("%v: userinfo has %s: %v", tt.scopes, k, info)
				}
			}
			if addr, ok := info["address"].(map[string]any); ok && (addr["locality"] != "Springfield" || addr["postal_code"] != "70101") {
				t.Errorf("address %v", addr)
			}
		}
	})
}

// TestRefreshRotation: a refresh token works once; its successor works;
// presenting a used one revokes the whole grant.
func TestRefreshRotation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, conf := s.webClient(t)
		tok := s.flow(t, conf, "rita@example.com")
		refresh := func(rt string) (int, map[string]any) {
			return s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, reg.ID, reg.Secret)
		}
		code, r1 := refresh(tok.refresh)
		if code != http.StatusOK || r1["refresh_token"] == tok.refresh || r1["refresh_token"] == nil || r1["id_token"] == nil {
			t.Fatalf("first refresh: %d %v", code, r1)
		}
		second := r1["refresh_token"].(string)
		s.verifyIDTokenNoNonce(t, reg.ID, r1["id_token"].(string))
		if code, _ := s.userinfo(t, r1["access_token"].(string)); code != http.StatusOK {
			t.Fatalf("userinfo with refreshed token: %d", code)
		}
		// Narrower scopes on refresh are allowed; wider are not.
		if code, r := refresh("nonsense"); code != http.StatusBadRequest || r["error"] != "invalid_grant" {
			t.Fatalf("unknown refresh token: %d %v", code, r)
		}
		// Reuse of the first token: refused, and the grant is revoked.
		if code, r := refresh(tok.refresh); code != http.StatusBadRequest || r["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %v", code, r)
		}
		if code, r := refresh(second); code != http.StatusBadRequest || r["error"] != "invalid_grant" {
			t.Fatalf("successor after reuse: %d %v", code, r)
		}
		if code, _ := s.userinfo(t, r1["access_token"].(string)); code != http.StatusForbidden {
			t.Fatalf("access token after reuse: %d", code)
		}
		// Another client cannot use someone else's refresh token.
		other, _ := s.webClient(t)
		tok2 := s.flow(t, conf, "rosa@example.com")
		if code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2.refresh}},
			other.ID, other.Secret); code < 400 || code >= 500 {
			t.Fatalf("refresh by another client: %d %v", code, r)
		}
		// RFC 7009: the owner revokes a refresh token; its grant ends.
		if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {tok2.refresh}, "token_type_hint": {"refresh_token"}}, reg.ID, reg.Secret); code != http.StatusOK {
			t.Fatalf("revoke refresh token: %d %v", code, r)
		}
		if code, r := refresh(tok2.refresh); code != http.StatusBadRequest || r["error"] != "invalid_grant" {
			t.Fatalf("refresh after revocation: %d %v", code, r)
		}
		if code, _ := s.userinfo(t, tok2.access); code != http.StatusForbidden {
			t.Fatalf("access token of a revoked grant: %d", code)
		}
		if !slices.Contains(s.auditActions(t), "oidc.refresh.reuse") {
			t.Error("reuse not audited")
		}
	})
}

func (s *site) verifyIDTokenNoNonce(t testing.TB, clientID, token string) {
	t.Helper()
	ks := rp.NewRemoteKeySet(http.DefaultClient, s.URL+"/oauth/keys")
	v := rp.NewIDTokenVerifier(s.URL, clientID, ks, rp.WithSupportedSigningAlgorithms("ES256", "RS256"))
	if _, err := rp.VerifyIDToken[*zoidc.IDTokenClaims](context.Background(), token, v); err != nil {
		t.Fatalf("ID token: %v", err)
	}
}

// TestClientCredentials: an agency system gets a signed access token for
// its registered scopes, and nothing with a wrong secret or scope.
func TestClientCredentials(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "DMV records", Grant: oidc.GrantClientCredentials,
			AgencyID: "dmv", Scopes: []string{"records.read"}})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"records.read"}}
		code, r := s.postForm(t, "/oauth/token", form, reg.ID, reg.Secret)
		if code != http.StatusOK || r["access_token"] == nil || r["token_type"] != "Bearer" || r["id_token"] != nil {
			t.Fatalf("grant: %d %v", code, r)
		}
		at := r["access_token"].(string)
		// A resource server verifies it with the JWKS.
		ks := rp.NewRemoteKeySet(http.DefaultClient, s.URL+"/oauth/keys")
		v := rp.NewIDTokenVerifier(s.URL, reg.ID, ks, rp.WithSupportedSigningAlgorithms("ES256", "RS256"))
		claims := new(zoidc.AccessTokenClaims)
		payload, err := zoidc.ParseToken(at, claims)
		if err != nil {
			t.Fatal(err)
		}
		if err := zoidc.CheckSignature(context.Background(), at, payload, claims, v.SupportedSignAlgs, v.KeySet); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if claims.Subject != reg.ID || claims.Issuer != s.URL {
			t.Fatalf("claims %+v", claims)
		}
		// The secret may also come in the body (client_secret_post).
		form2 := url.Values{"grant_type": {"client_credentials"}, "client_id": {reg.ID}, "client_secret": {reg.Secret}}
		if code, r := s.postForm(t, "/oauth/token", form2, "", ""); code != http.StatusOK {
			t.Fatalf("client_secret_post: %d %v", code, r)
		}
		// Introspection by the client itself.
		code, r = s.postForm(t, "/oauth/introspect", url.Values{"token": {at}}, reg.ID, reg.Secret)
		if code != http.StatusOK || r["active"] != true || r["client_id"] != reg.ID {
			t.Fatalf("introspect: %d %v", code, r)
		}
		// A client's token is not a person's: no userinfo.
		if code, _ := s.userinfo(t, at); code != http.StatusForbidden {
			t.Fatalf("userinfo with a client token: %d", code)
		}
		// Revocation ends it.
		if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {at}, "token_type_hint": {"access_token"}}, reg.ID, reg.Secret); code != http.StatusOK {
			t.Fatalf("revoke: %d %v", code, r)
		}
		if code, r := s.postForm(t, "/oauth/introspect", url.Values{"token": {at}}, reg.ID, reg.Secret); code != http.StatusOK || r["active"] == true {
			t.Fatalf("introspect after revoke: %d %v", code, r)
		}

		bad := []struct {
			name       string
			form       url.Values
			user, pass string
			status     int
			errCode    string
		}{
			{"wrong secret", form, reg.ID, "wrong", http.StatusUnauthorized, "invalid_client"},
			{"unknown client", form, "pc_nobody", "x", http.StatusUnauthorized, "invalid_client"},
			{"no credentials", form, "", "", http.StatusUnauthorized, "invalid_client"},
			{"scope not registered", url.Values{"grant_type": {"client_credentials"}, "scope": {"records.write"}}, reg.ID, reg.Secret, http.StatusBadRequest, "invalid_scope"},
			{"person scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid email"}}, reg.ID, reg.Secret, http.StatusBadRequest, "invalid_scope"},
			{"code grant by a cc client", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {rpCallback}}, reg.ID, reg.Secret, http.StatusBadRequest, "invalid_grant"},
		}
		for _, tt := range bad {
			code, r := s.postForm(t, "/oauth/token", tt.form, tt.user, tt.pass)
			if code != tt.status || r["error"] != tt.errCode {
				t.Errorf("%s: %d %v, want %d %s", tt.name, code, r, tt.status, tt.errCode)
			}
		}
		// A web client may not use client_credentials.
		web, _ := s.webClient(t)
		if code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, web.ID, web.Secret); code != http.StatusBadRequest || r["error"] != "unauthorized_client" {
			t.Fatalf("web client cc: %d %v", code, r)
		}
	})
}
