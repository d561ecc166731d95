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

// TestDataPageStaffReads: when DMV staff open Beto's case and look at his
// contact details, "Who has used my data" says so in plain words (en and
// es); his own look at his case is not listed; Ana's page shows nothing
// of Beto's.
func TestDataPageStaffReads(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", LogLevel: 8, DevMailbox: true}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, app.NewLogger(cfg, io.Discard), app.Options{Migrate: true, Listen: true})
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
	kase := openCase(t, a, "app-data-page", "beto.ciudadano@example.com", "vehicle-registration-renewal", vehicleAnswers)
	staff := platform.Actor{Kind: platform.ActorStaff, ID: "dmv-casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	if _, err := a.Casework.ViewCase(ctx, staff, kase.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Casework.ViewApplicant(ctx, staff, kase.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Casework.ViewApplicantCase(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: kase.AccountID}, kase.ID); err != nil {
		t.Fatal(err)
	}
	beto := signInAt(t, a.URL(), "beto.ciudadano@example.com", false, time.Now())
	for lang, want := range map[string][]string{
		"en": {"Staff at the Department of Motor Vehicles opened your case " + kase.Reference + ".",
			"Staff at the Department of Motor Vehicles looked at your contact details for case " + kase.Reference + "."},
		"es": {"Personal del Departamento de Vehículos Motorizados abrió su caso " + kase.Reference + ".",
			"Personal del Departamento de Vehículos Motorizados consultó sus datos de contacto para el caso " + kase.Reference + "."},
	} {
		st, body := page(t, beto, a.URL()+"/account/data?lang="+lang)
		if st != 200 {
			t.Fatalf("/account/data (%s): %d", lang, st)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("/account/data (%s) lacks %q", lang, w)
			}
		}
		if n := strings.Count(body, kase.Reference); n != 2 {
			t.Errorf("/account/data (%s) names the case %d times, want 2 (staff's reads, not Beto's own)", lang, n)
		}
	}
	ana := signInAt(t, a.URL(), "ana.citizen@example.com", false, time.Now())
	if st, body := page(t, ana, a.URL()+"/account/data"); st != 200 || strings.Contains(body, kase.Reference) {
		t.Errorf("Ana's data page: %d, names Beto's case: %v", st, strings.Contains(body, kase.Reference))
	}
}
