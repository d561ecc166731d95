package main

import (
	"testing"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserOutcomes checks the outcome pages with headless Chromium and
// axe-core in English and Spanish at 1280 and 390 px: the public
// /performance page and a service's, Casey's dashboard of the DMV (charts
// each followed by its data table), the offline-record form, and a
// platform administrator's dashboard of every agency and the side-by-side
// table.
func TestBrowserOutcomes(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	used := totpSteps{}
	t.Run("public", func(t *testing.T) {
		p := b.Page(t)
		for _, lang := range []string{"en", "es"} {
			p.CheckEverywhere(t, "performance-"+lang, base+"/performance?lang="+lang, 1280, 390)
			p.CheckEverywhere(t, "performance-service-"+lang, base+"/performance/vehicle-registration-renewal?lang="+lang, 1280, 390)
		}
	})
	t.Run("staff", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "casey.dmv@example.gov", "en", true, used)
		for _, lang := range []string{"en", "es"} {
			p.CheckEverywhere(t, "outcomes-dmv-"+lang, base+"/console/outcomes?lang="+lang, 1280, 390)
			p.CheckEverywhere(t, "outcomes-offline-"+lang, base+"/console/outcomes/offline?agency=dmv&lang="+lang, 1280, 390)
		}
	})
	t.Run("platform-admin", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "pat.admin@example.gov", "en", true, used)
		for _, lang := range []string{"en", "es"} {
			p.CheckEverywhere(t, "outcomes-all-"+lang, base+"/console/outcomes?lang="+lang, 1280, 390)
			p.CheckEverywhere(t, "outcomes-agencies-"+lang, base+"/console/outcomes/agencies?lang="+lang, 1280, 390)
		}
	})
}
