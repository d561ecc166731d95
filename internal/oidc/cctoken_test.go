package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestClientCredentialsTokenShape: the client-credentials grant, which the
// block answers beside the library (issue 14), gives the token and the
// response the library gave: header alg ES256, the active key's kid and
// typ JWT; claims iss, sub, aud, client_id, jti, scope, iat = nbf and exp
// one access-token lifetime later; expires_in and scope in the response;
// and the provider's CORS answer to a cross-origin request.
func TestClientCredentialsTokenShape(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := newSite(t, db)
		reg, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "DMV records", Grant: oidc.GrantClientCredentials,
			Scopes: []string{"records.read", "records.list"}})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"records.read records.list"}}
		req, _ := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://app.example.org")
		req.SetBasicAuth(reg.ID, reg.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("grant: %d %s", resp.StatusCode, raw)
		}
		for h, want := range map[string]string{"Access-Control-Allow-Origin": "*", "Vary": "Origin", "Cache-Control": "no-store",
			"Pragma": "no-cache", "Content-Type": "application/json"} {
			if got := strings.Join(resp.Header.Values(h), ", "); !strings.Contains(got, want) {
				t.Errorf("header %s: %q, want %q in it", h, got, want)
			}
		}
		var body struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int    `json:"expires_in"`
			Scope       string `json:"scope"`
			IDToken     string `json:"id_token"`
			Refresh     string `json:"refresh_token"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		ttl := s.svc.Config().AccessTokenTTL
		if body.TokenType != "Bearer" || body.IDToken != "" || body.Refresh != "" || body.Scope != "records.read records.list" ||
			body.ExpiresIn < int(ttl.Seconds())-5 || body.ExpiresIn > int(ttl.Seconds()) {
			t.Fatalf("response %s", raw)
		}
		parts := strings.Split(body.AccessToken, ".")
		if len(parts) != 3 {
			t.Fatalf("token %q", body.AccessToken)
		}
		var header map[string]any
		var claims map[string]any
		for i, v := range []any{&header, &claims} {
			b, err := base64.RawURLEncoding.DecodeString(parts[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := s.svc.Keys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		active := ""
		for _, k := range keys {
			if k.Active {
				active = k.ID
			}
		}
		if header["alg"] != "ES256" || header["typ"] != "JWT" || header["kid"] != active || len(header) != 3 {
			t.Fatalf("header %v, active key %s", header, active)
		}
		want := []string{"iss", "sub", "aud", "exp", "iat", "nbf", "client_id", "jti", "scope"}
		if len(claims) != len(want) {
			t.Fatalf("claims %v, want exactly %v", claims, want)
		}
		iat, exp := claims["iat"].(float64), claims["exp"].(float64)
		aud, _ := claims["aud"].([]any)
		if claims["iss"] != s.URL || claims["sub"] != reg.ID || claims["client_id"] != reg.ID || len(aud) != 1 || aud[0] != reg.ID ||
			!strings.HasPrefix(claims["jti"].(string), "ct_") || claims["scope"] != "records.read records.list" ||
			claims["nbf"] != claims["iat"] || time.Duration(exp-iat)*time.Second < ttl-5*time.Second || time.Duration(exp-iat)*time.Second > ttl+time.Second {
			t.Fatalf("claims %v", claims)
		}
		// The token is live to Portico's own checks.
		if at, err := s.svc.VerifyAccessToken(context.Background(), body.AccessToken); err != nil || at.ClientID != reg.ID {
			t.Fatalf("verify: %+v %v", at, err)
		}
	})
}
