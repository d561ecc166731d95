package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/portico-gov/portico/internal/api"
	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/oidc"
	"github.com/portico-gov/portico/internal/platform"
)

// systemToken registers a client_credentials client of agency with scopes
// and gets it a real access token from the OpenID Provider at base.
func systemToken(t *testing.T, a *app.App, base, agency string, scopes ...string) string {
	t.Helper()
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator})
	reg, err := a.OIDC.AddClient(ctx, oidc.NewClient{Name: agency + " events reader", AgencyID: agency, Grant: oidc.GrantClientCredentials, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	conf := clientcredentials.Config{ClientID: reg.ID, ClientSecret: reg.Secret, TokenURL: base + "/oauth/token", Scopes: scopes}
	tok, err := conf.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// TestEventsAPIWithRealTokens: agency systems get client_credentials
// tokens from Portico's OpenID Provider and read /api/v1/events through the
// real server and wiring; each sees its own agency's events only, and a
// client registered without the events.read scope is refused.
func TestEventsAPIWithRealTokens(t *testing.T) {
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem})
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if err := seedDemo(ctx, a); err != nil {
		t.Fatal(err)
	}
	// The pothole report manifest: an example the demo leaves out
	// (demo.NotInDemo), here a case at a second agency.
	if _, err := demo.SeedExamples(ctx, a.Catalog); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := a.Config.PublicURL
	dmv := openCase(t, a, "app-events-dmv", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	clerk := openCase(t, a, "app-events-clerk", "ana.citizen@example.com", "springfield-pothole",
		map[string]map[string]any{"where": {"location": "Elm St", "size": "small"}})
	if _, err := events.Sequence(ctx, a.DB, 0); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)

	get := func(token string) (int, api.EventPage, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/events?after=0&limit=1000", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var p api.EventPage
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, p, string(body)
	}
	for _, c := range []struct {
		agency, caseID string
	}{{"dmv", dmv.ID}, {clerk.AgencyID, clerk.ID}} {
		status, page, body := get(systemToken(t, a, base, c.agency, api.ScopeEvents))
		if status != http.StatusOK || len(page.Events) == 0 {
			t.Fatalf("%s's system: %d %s", c.agency, status, body)
		}
		// The demo's own cases are there too; every event is the
		// agency's, and the case opened above is among them.
		ours := false
		for _, e := range page.Events {
			// Case events name their case; application events their
			// application (or service); other types no subject.
			wantSubject := map[bool]string{true: "case:"}[strings.HasPrefix(e.Type, "gov.portico.case.")]
			if strings.HasPrefix(e.Type, "gov.portico.application.") {
				wantSubject = map[bool]string{true: "application:", false: "service:"}[e.Type != "gov.portico.application.ineligible"]
			}
			if e.Agency != c.agency || !strings.HasPrefix(e.Subject, wantSubject) || (wantSubject == "" && e.Subject != "") {
				t.Errorf("%s's system read %s about %s of %s", c.agency, e.Type, e.Subject, e.Agency)
			}
			ours = ours || e.Subject == "case:"+c.caseID
		}
		if !ours {
			t.Errorf("%s's system did not read the events of case %s", c.agency, c.caseID)
		}
		if page.Next != page.Events[len(page.Events)-1].Position {
			t.Errorf("next = %d, want the last position", page.Next)
		}
		if strings.Contains(body, `"account_id"`) {
			t.Errorf("%s's system sees account ids: %s", c.agency, body)
		}
	}
	if status, _, body := get(systemToken(t, a, base, "dmv", "records.read")); status != http.StatusForbidden || !strings.Contains(body, "events.read") {
		t.Errorf("a client without events.read: %d %s", status, body)
	}
}
