package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestClientToken: a client-credentials token has no row (ADR 60), so
// everything that decides whether it is live is checked from its signed
// claims: Portico's APIs and introspection accept it with its scopes
// until it expires or is revoked, its issue is audited with its jti, and
// another client cannot revoke it.
func TestClientToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		clock := platform.NewFakeClock(time.Now().UTC())
		s := newSiteAt(t, db, clock)
		ctx := context.Background()
		add := func(name string) *oidc.Registered {
			reg, err := s.svc.AddClient(ctx, oidc.NewClient{Name: name, Grant: oidc.GrantClientCredentials, Scopes: []string{"records.read", "records.list"}})
			if err != nil {
				t.Fatal(err)
			}
			return reg
		}
		reg, other := add("DMV records"), add("Tax sync")
		grant := func(scope string) string {
			t.Helper()
			code, r := s.postForm(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, reg.ID, reg.Secret)
			if code != http.StatusOK {
				t.Fatalf("grant: %d %v", code, r)
			}
			return r["access_token"].(string)
		}
		at := grant("records.read")
		claims := new(zoidc.AccessTokenClaims)
		if _, err := zoidc.ParseToken(at, claims); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(claims.JWTID, "ct_") || strings.Join(claims.Scopes, " ") != "records.read" || claims.Subject != reg.ID {
			t.Fatalf("claims: jti %q scope %v sub %q", claims.JWTID, claims.Scopes, claims.Subject)
		}
		var rows int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM oidc_tokens WHERE id = $1`, claims.JWTID).Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("a client token's issue stores no token row: %d rows, %v", rows, err)
		}
		var audited int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'oidc.token.issue' AND detail LIKE $1`,
			"%"+claims.JWTID+"%").Scan(&audited); err != nil || audited != 1 {
			t.Fatalf("issue audited %d times (%v), want once", audited, err)
		}

		both := grant("records.read records.list")
		tampered := at[:len(at)-4] + "AAAA"
		checks := []struct {
			name   string
			raw    string
			live   bool
			scopes string
		}{
			{"live token", at, true, "records.read"},
			{"two scopes", both, true, "records.read records.list"},
			{"tampered", tampered, false, ""},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.svc.VerifyAccessToken(ctx, c.raw)
				if !c.live {
					if platform.ErrorCode(err) != platform.CodeUnauthorized {
						t.Fatalf("verify: %+v, %v; want unauthorized", got, err)
					}
					return
				}
				if err != nil || got.ClientID != reg.ID || got.AccountID != "" || strings.Join(got.Scopes, " ") != c.scopes {
					t.Fatalf("verify: %+v, %v", got, err)
				}
				code, r := s.postForm(t, "/oauth/introspect", url.Values{"token": {c.raw}}, reg.ID, reg.Secret)
				if code != http.StatusOK || r["active"] != true || r["client_id"] != reg.ID || r["scope"] != c.scopes || r["sub"] != reg.ID || r["exp"] == nil {
					t.Fatalf("introspect: %d %v", code, r)
				}
			})
		}

		// Another client cannot revoke it; its own client can.
		if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {at}}, other.ID, other.Secret); code == http.StatusOK {
			t.Fatalf("revoke by another client: %d %v", code, r)
		}
		if _, err := s.svc.VerifyAccessToken(ctx, at); err != nil {
			t.Fatalf("after another client's attempt: %v", err)
		}
		for range 2 { // twice: revoking again is harmless
			if code, r := s.postForm(t, "/oauth/revoke", url.Values{"token": {at}}, reg.ID, reg.Secret); code != http.StatusOK {
				t.Fatalf("revoke: %d %v", code, r)
			}
		}
		if _, err := s.svc.VerifyAccessToken(ctx, at); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Fatalf("revoked token: %v", err)
		}
		if code, r := s.postForm(t, "/oauth/introspect", url.Values{"token": {at}}, reg.ID, reg.Secret); code != http.StatusOK || r["active"] == true {
			t.Fatalf("introspect revoked: %d %v", code, r)
		}
		if _, err := s.svc.VerifyAccessToken(ctx, both); err != nil {
			t.Fatalf("revoking one token ended another: %v", err)
		}
		// A JWT signed with the provider's key is not a client token unless
		// its claims are what a grant issues: the signature alone decides
		// neither scope, audience nor lifetime.
		now := clock.Now()
		forge := func(change func(map[string]any)) string {
			c := map[string]any{"iss": s.URL, "sub": reg.ID, "client_id": reg.ID, "aud": []string{reg.ID},
				"jti": "ct_forged" + strings.Repeat("x", 18), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "records.read"}
			change(c)
			raw, err := s.svc.SignJWT(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
		if _, err := s.svc.VerifyAccessToken(ctx, forge(func(map[string]any) {})); err != nil {
			t.Fatalf("a token shaped as a grant issues it: %v", err)
		}
		forged := []struct {
			name   string
			change func(map[string]any)
		}{
			{"scope not registered", func(c map[string]any) { c["scope"] = "records.read payments.write" }},
			{"another audience", func(c map[string]any) { c["aud"] = []string{other.ID} }},
			{"two audiences", func(c map[string]any) { c["aud"] = []string{reg.ID, other.ID} }},
			{"lives a day", func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() }},
			{"issued in the future", func(c map[string]any) {
				c["iat"] = now.Add(time.Hour).Unix()
				c["exp"] = now.Add(65 * time.Minute).Unix()
			}},
			{"no issue time", func(c map[string]any) { delete(c, "iat") }},
			{"subject is not the client", func(c map[string]any) { c["sub"] = other.ID }},
		}
		for _, f := range forged {
			if got, err := s.svc.VerifyAccessToken(ctx, forge(f.change)); platform.ErrorCode(err) != platform.CodeUnauthorized {
				t.Errorf("forged, %s: %+v, %v; want unauthorized", f.name, got, err)
			}
		}

		// Past its expiry it is dead, and the revoked row is still kept.
		clock.Set(clock.Now().Add(11 * time.Minute))
		if _, err := s.svc.VerifyAccessToken(ctx, both); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Fatalf("expired token: %v", err)
		}
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM oidc_tokens WHERE id = $1 AND revoked_at IS NOT NULL`, claims.JWTID).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("revoked row: %d, %v", rows, err)
		}

		// A disabled client's tokens die with it (once the client cache,
		// 5 seconds, has let the change through).
		live := grant("records.list")
		if _, err := db.Write().ExecContext(ctx, `UPDATE oidc_clients SET disabled_at = $1 WHERE id = $2`, clock.Now(), reg.ID); err != nil {
			t.Fatal(err)
		}
		clock.Set(clock.Now().Add(6 * time.Second))
		if _, err := s.svc.VerifyAccessToken(ctx, live); platform.ErrorCode(err) != platform.CodeUnauthorized {
			t.Fatalf("disabled client's token: %v", err)
		}
	})
}
