package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/web"
)

// publishWithPlugins publishes testdata/renewal-with-plugins.yaml, the
// vehicle registration renewal using the DMV's vehicle records
// (vehicle-registry, seeded by the demo), its uses checked against the
// plug-in registry: what a person consents to share is the union of
// their data (name and their answers).
func publishWithPlugins(t testing.TB, a *app.App) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "renewal-with-plugins.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorSystem, ID: "test"})
	if p, err := a.Catalog.Latest(ctx, "vehicle-registration-renewal"); err == nil && p.Version >= 2 {
		return
	}
	if _, err := a.Catalog.PublishWith(ctx, "dmv", "renewal-with-plugins.yaml", src, a.PluginRefs()); err != nil {
		t.Fatal(err)
	}
}

// giveConsent publishes the renewal with plug-ins and records account's
// consent to share its data with the vehicle records; it returns its id.
func giveConsent(t testing.TB, a *app.App, account string) string {
	t.Helper()
	publishWithPlugins(t, a)
	c, err := a.Consents.Give(context.Background(), platform.Actor{Kind: platform.ActorCitizen, ID: account}, "vehicle-registration-renewal", "vehicle-registry")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestConsentScreenGolden renders the consent screen for the renewal's
// use of the DMV's vehicle records, as Ana sees it on a fixed day, in
// English and Spanish, and compares each with its golden file (go test
// ./cmd/portico -run TestConsentScreenGolden -update rewrites them; review
// the diff). The screen's words are a promise to the person: who, what,
// what for, until when.
func TestConsentScreenGolden(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	clock := platform.NewFakeClock(time.Date(2026, 3, 27, 15, 0, 0, 0, time.UTC))
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Clock: clock, Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	if err := seedDemo(platform.WithActor(ctx, platform.Actor{Kind: platform.ActorSystem}), a); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	publishWithPlugins(t, a)
	ana := signInAt(t, a.URL(), "ana.citizen@example.com", false, clock.Now())
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			st, body := page(t, ana, a.URL()+"/consent?service=vehicle-registration-renewal&plugin=vehicle-registry&return=%2Fdashboard&lang="+lang)
			if st != 200 {
				t.Fatalf("consent screen: %d", st)
			}
			for _, v := range volatile {
				body = v.re.ReplaceAllString(body, v.with)
			}
			body = web.UnhashAssets(strings.ReplaceAll(body, a.URL(), "http://portico.test"))
			golden := filepath.Join("testdata", "golden", "consent."+lang+".html")
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/portico -run TestConsentScreenGolden -update)", err)
			}
			if body != string(want) {
				t.Fatalf("the consent screen differs from %s; run with -update and review the diff\n%s", golden, firstLineDiff(body, string(want)))
			}
		})
	}
}
