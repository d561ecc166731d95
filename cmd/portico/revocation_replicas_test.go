package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestClientRevocationAcrossReplicas: two replicas (two app.New in this
// process, each with its own HTTP server) on one PostgreSQL database, as
// deployed at scale. A client's token revoked on one replica is refused
// by the other at once: one token (RFC 7009, POST /oauth/revoke) and
// every token of the client (POST /oauth/revoke_all) alike, since the
// revoked row and the client's tokens_not_before are read from the
// database on every check, never from the 5-second client cache. Both are
// checked at GET /api/v1/events, which accepts client tokens, and at
// introspection; a token issued after the revocation works on both.
// SQLite is one process's file, so this needs PostgreSQL.
func TestClientRevocationAcrossReplicas(t *testing.T) {
	if os.Getenv(storagetest.PostgresEnv) == "" {
		t.Skipf("cross-replica revocation needs two replicas on one PostgreSQL database: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)", storagetest.PostgresEnv)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	dbURL := storagetest.MigratedURL(t, storage.Postgres)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	keyURL := "base64key://" + base64.URLEncoding.EncodeToString(key)
	replica := func() (*app.App, string) {
		// One public URL (the issuer both sign and check as), one key that
		// opens the signing keys both share, one database.
		cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DB: dbURL, KeyURL: keyURL, PublicURL: "http://portico.test",
			LogFormat: "text", LogLevel: 8}
		if err := cfg.Finish(); err != nil {
			t.Fatal(err)
		}
		a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Stop(context.Background()) })
		srv := httptest.NewServer(a.Web)
		t.Cleanup(srv.Close)
		return a, srv.URL
	}
	a, aURL := replica()
	if _, err := demo.Seed(ctx, a.Tenancy); err != nil {
		t.Fatal(err)
	}
	_, bURL := replica()
	reg, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: "DMV events reader", AgencyID: "dmv", Grant: oidc.GrantClientCredentials, Scopes: []string{"events.read"}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(base, path string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(reg.ID), url.QueryEscape(reg.Secret))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	grant := func(base string) string {
		t.Helper()
		code, r := post(base, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"events.read"}})
		if code != http.StatusOK {
			t.Fatalf("grant: %d %v", code, r)
		}
		return r["access_token"].(string)
	}
	// accepted asks replica base whether it takes tok, at the events API
	// and at introspection, which must agree.
	accepted := func(base, tok string) bool {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/events?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("events API: %d", res.StatusCode)
		}
		_, r := post(base, "/oauth/introspect", url.Values{"token": {tok}})
		if (r["active"] == true) != (res.StatusCode == http.StatusOK) {
			t.Fatalf("introspection (%v) and the events API (%d) disagree", r, res.StatusCode)
		}
		return res.StatusCode == http.StatusOK
	}

	one, all := grant(aURL), grant(bURL)
	for _, base := range []string{aURL, bURL} {
		if !accepted(base, one) || !accepted(base, all) {
			t.Fatal("a fresh token is refused") // this also caches the client on both replicas
		}
	}

	t.Run("one token, revoked on A, refused by B at once", func(t *testing.T) {
		if code, r := post(aURL, "/oauth/revoke", url.Values{"token": {one}}); code != http.StatusOK {
			t.Fatalf("revoke: %d %v", code, r)
		}
		if accepted(bURL, one) || accepted(aURL, one) {
			t.Fatal("a revoked token is still accepted")
		}
		if !accepted(bURL, all) {
			t.Fatal("revoking one token ended another")
		}
	})

	t.Run("every token, revoked on A, refused by B at once", func(t *testing.T) {
		code, r := post(aURL, "/oauth/revoke_all", url.Values{})
		if code != http.StatusOK {
			t.Fatalf("revoke_all: %d %v", code, r)
		}
		// B has the client in its cache (the checks above): the
		// revocation must not wait for that copy to expire.
		if accepted(bURL, all) || accepted(aURL, all) {
			t.Fatal("a token of a client whose tokens were all revoked is still accepted")
		}
		nb, err := time.Parse(time.RFC3339, r["tokens_not_before"].(string))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(nb) + 10*time.Millisecond)
		fresh := grant(bURL)
		if !accepted(aURL, fresh) || !accepted(bURL, fresh) {
			t.Fatal("a token issued after the revocation is refused")
		}
	})
}
