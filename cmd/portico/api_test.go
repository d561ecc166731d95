package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
)

// TestAPIWithRealTokens is the API journey end to end: an agency's web
// app sends a citizen through Portico's OpenID Provider (sign-in, consent
// to the applications scope), exchanges the code with PKCE, and reads the
// citizen's applications with the access token; the token stops working
// once the person's grant is revoked.
func TestAPIWithRealTokens(t *testing.T) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	// Port 0, bound by startApp: see checkPlans.
	a := startApp(t, config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true})
	base := "http://localhost:" + a.URL()[strings.LastIndex(a.URL(), ":")+1:]
	if err := seedDemo(ctx, a); err != nil {
		t.Fatal(err)
	}
	const redirect = "https://rp.example.gov/callback"
	reg, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: "DMV app", Grant: "authorization_code", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	ana, err := a.Identity.AccountByEmail(ctx, "ana.citizen@example.com")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := a.Catalog.Latest(ctx, "vehicle-registration-renewal")
	if err != nil {
		t.Fatal(err)
	}
	var opened casework.Case
	if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
			VALUES ('app-1', $1, $2, $3, $4, 'submitted', $6, $5, $5)`, svc.ID, svc.Version, svc.AgencyID, ana.ID, a.Clock.Now(),
			`{"vehicle":{"plate":"ABC123","type":"car"},"insurance":{"insurer":"Acme","policy":"P-1"}}`); err != nil {
			return err
		}
		opened, err = a.Casework.Open(ctx, tx, casework.Opening{ApplicationID: "app-1", AccountID: ana.ID, AgencyID: svc.AgencyID,
			ServiceID: svc.ID, Version: svc.Version, Fee: submittedFee(t, a, svc, map[string]map[string]any{"vehicle": {"plate": "ABC123", "type": "car"}})})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	conf := &oauth2.Config{ClientID: reg.ID, ClientSecret: reg.Secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token"},
		Scopes:   []string{"openid", oidc.ScopeApplications}}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// follow walks redirects and "continue" pages until the browser would
	// leave for the relying party, and returns that address.
	follow := func(resp *http.Response) (*http.Response, *url.URL) {
		return followToClient(t, browser, resp, redirect)
	}
	req, _ := http.NewRequest("GET", conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)), nil)
	start, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := follow(start)
	next := page.Request.URL.Query().Get("next")
	page.Body.Close()
	page, _ = follow(postForm(t, browser, base+"/sign-in", url.Values{"email": {"ana.citizen@example.com"}, "password": {demo.CitizenPassword}, "next": {next}}))
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(body), "The applications you submitted") {
		t.Fatalf("consent screen does not say what the applications scope releases:\n%.2000s", body)
	}
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no consent form:\n%.2000s", body)
	}
	_, cb := follow(postForm(t, browser, base+"/oauth/consent", url.Values{"id": {string(m[1])}, "decision": {"allow"}}))
	if cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("no code at the relying party: %v", cb)
	}
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	call := func(token string) (int, []byte) {
		req, _ := http.NewRequest("GET", base+"/api/v1/applications", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, got := call(tok.AccessToken)
	var list api.ApplicationList
	// Ana's applications: the one opened here, newest first, before the
	// demo's seeded cases.
	if code != http.StatusOK || json.Unmarshal(got, &list) != nil || len(list.Applications) != 1+demoCasesOf("ana.citizen@example.com") ||
		list.Applications[0].Reference != opened.Reference {
		t.Fatalf("applications with a real token: %d %s", code, got)
	}
	// The app revokes the token (RFC 7009); it stops working at once,
	// before its expiry.
	form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}
	rreq, _ := http.NewRequest("POST", base+"/oauth/revoke", strings.NewReader(form.Encode()))
	rreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rreq.SetBasicAuth(reg.ID, reg.Secret)
	if resp, err := http.DefaultClient.Do(rreq); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if code, got := call(tok.AccessToken); code != http.StatusUnauthorized {
		t.Fatalf("after revocation: %d %s", code, got)
	}
}

// followToClient walks redirects and "continue" pages with browser until
// it would leave for the relying party at redirect, and returns that
// address; a page that is neither is returned as the response.
func followToClient(t *testing.T, browser *http.Client, resp *http.Response, redirect string) (*http.Response, *url.URL) {
	t.Helper()
	for {
		var next *url.URL
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			next, _ = resp.Location()
		case strings.HasPrefix(resp.Header.Get("Refresh"), "0; url="):
			next, _ = resp.Request.URL.Parse(strings.TrimPrefix(resp.Header.Get("Refresh"), "0; url="))
		default:
			return resp, nil
		}
		resp.Body.Close()
		if strings.HasPrefix(next.String(), redirect) {
			return nil, next
		}
		req, _ := http.NewRequest("GET", next.String(), nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		var err error
		if resp, err = browser.Do(req); err != nil {
			t.Fatal(err)
		}
	}
}
