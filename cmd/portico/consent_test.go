package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/platform"
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
