package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
)

func startApp(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	return startAppOn(t, cfg, nil)
}

// startAppOn is startApp serving on ln, already open (nil: startApp binds
// cfg.Addr, whose port may be 0).
func startAppOn(t *testing.T, cfg config.Config, ln net.Listener) *app.App {
	t.Helper()
	ctx := context.Background()
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Work: true, Listen: true, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a.Stop(ctx)
	})
	return a
}

// TestExternalSignIn runs two Portico sites: A is an OpenID Provider (as
// Login.gov would be) and B accepts sign-in through it. A person new to B
// gets an account; a person whose email already has an account on B is
// asked to confirm the link first, and is not linked when they decline.
func TestExternalSignIn(t *testing.T) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	// No port is picked free and bound later (another test could take it
	// in between): A binds port 0 itself, and B's listener is open before
	// A registers B's callback address, then handed to B.
	idp := startApp(t, config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true})
	baseA := "http://localhost:" + idp.URL()[strings.LastIndex(idp.URL(), ":")+1:]
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	baseB := "http://localhost:" + strconv.Itoa(lnB.Addr().(*net.TCPAddr).Port)
	reg, err := idp.OIDC.AddClient(ctx, oidc.NewClient{Name: "Portico B", Grant: "authorization_code", RedirectURIs: []string{baseB + "/sign-in/external/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"new.person@example.com", "known.person@example.com"} {
		if _, err := idp.Identity.CreateCitizen(ctx, identity.NewCitizen{Email: email, LegalName: "Person " + email[:3], Password: "the provider passphrase"}); err != nil {
			t.Fatal(err)
		}
	}

	t.Setenv("PORTICO_EXTERNAL_IDP_CLIENT_SECRET", reg.Secret)
	site := startAppOn(t, config.Config{Addr: lnB.Addr().String(), DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true,
		ExternalIssuer: baseA, ExternalClientID: reg.ID, ExternalClientSecret: reg.Secret, ExternalName: "Example ID"}, lnB)
	if _, err := site.Identity.CreateCitizen(ctx, identity.NewCitizen{Email: "known.person@example.com", LegalName: "Known Person", Password: "a site b password here"}); err != nil {
		t.Fatal(err)
	}

	// signInThroughA starts at B's button, signs in at A, consents, and
	// returns where B finally sends the browser.
	signInThroughA := func(t *testing.T, c *http.Client, email string) *http.Response {
		t.Helper()
		get := func(u string) *http.Response {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		// follow follows redirects, and the "continue" page A shows after
		// a form (a Refresh header: the CSP's form-action 'self' stops a
		// browser from following a redirect to another site after a POST).
		follow := func(resp *http.Response) *http.Response {
			for {
				switch {
				case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
					loc, _ := resp.Location()
					resp.Body.Close()
					resp = get(loc.String())
				case strings.HasPrefix(resp.Header.Get("Refresh"), "0; url="):
					target, err := resp.Request.URL.Parse(strings.TrimPrefix(resp.Header.Get("Refresh"), "0; url="))
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					resp = get(target.String())
				default:
					return resp
				}
			}
		}
		resp := follow(get(baseB + "/sign-in/external"))
		if !strings.HasPrefix(resp.Request.URL.String(), baseA+"/sign-in") {
			t.Fatalf("not sent to A's sign-in: %s", resp.Request.URL)
		}
		next := resp.Request.URL.Query().Get("next")
		resp.Body.Close()
		resp = follow(postForm(t, c, baseA+"/sign-in", url.Values{"email": {email}, "password": {"the provider passphrase"}, "next": {next}}))
		if !strings.HasPrefix(resp.Request.URL.String(), baseA+"/oauth/consent") {
			return resp // consent given before is remembered
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("consent screen without a form:\n%.1500s", body)
		}
		return follow(postForm(t, c, baseA+"/oauth/consent", url.Values{"id": {string(m[1])}, "decision": {"allow"}}))
	}

	t.Run("new person gets an account", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp := signInThroughA(t, c, "new.person@example.com")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Request.URL.String() != baseB+"/account" || !strings.Contains(string(body), "new.person@example.com") {
			t.Fatalf("ended at %s (%d):\n%.1500s", resp.Request.URL, resp.StatusCode, body)
		}
		if _, err := site.Identity.AccountByEmail(ctx, "new.person@example.com"); err != nil {
			t.Fatalf("no account on B: %v", err)
		}
	})

	t.Run("known person confirms the link", func(t *testing.T) {
		for _, decision := range []string{"no", "yes"} {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp := signInThroughA(t, c, "known.person@example.com")
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Request.URL.String() != baseB+"/sign-in/external/link" || !strings.Contains(string(body), "Link your accounts?") {
				t.Fatalf("no link confirmation: %s\n%.1500s", resp.Request.URL, body)
			}
			r := postForm(t, c, baseB+"/sign-in/external/link", url.Values{"confirm": {decision}})
			loc := r.Header.Get("Location")
			r.Body.Close()
			want := map[string]string{"no": "/sign-in", "yes": "/account"}[decision]
			if loc != want {
				t.Fatalf("decision %s: redirected to %q, want %q", decision, loc, want)
			}
		}
		var links int
		if err := site.DB.Read().QueryRow(`SELECT COUNT(*) FROM external_identities`).Scan(&links); err != nil || links != 2 {
			t.Fatalf("links on B = %d, %v; want 2 (the new person and the confirmed one)", links, err)
		}
	})
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
