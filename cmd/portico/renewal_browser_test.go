package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserRenewByPlate renews a vehicle registration in the demo as a
// citizen would, in English and Spanish: the plate, the consent screen
// (who, what, why, until when), the details page filled in from the DMV's
// vehicle records through the gateway, and check your answers, each
// checked at desktop and phone widths with axe.
func TestBrowserRenewByPlate(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	for _, c := range []struct {
		lang, email, plate, make, model string
		consent                         []string
	}{
		{"en", "ana.citizen@example.com", "EX 4KQ-218", "Honda", "Civic",
			[]string{"DMV vehicle records", "Department of Motor Vehicles", "Your name", "Until "}},
		{"es", "beto.ciudadano@example.com", "ex 7mb-904", "Ford", "Fusion",
			[]string{"Registros de vehículos del DMV", "Departamento de Vehículos Motorizados", "Su nombre", "Hasta el "}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			p := b.Page(t)
			signInBrowser(t, p, base, c.email, c.lang, false, nil)
			waitLeaves(t, p, "/sign-in")
			p.Visit(t, base+"/services/vehicle-registration-renewal?lang="+c.lang)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/vehicle-registration-renewal/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#f-plate")),
			)
			p.CheckEverywhere(t, "renewal-plate-"+c.lang, p.Location(t))
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#f-plate"), c.plate),
				chromedp.Click(chromedp.CSS(`label[for="f-type-0"]`)),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
			)
			// The details come from another agency's system: consent first.
			waitLocation(t, p, "/consent", true)
			p.CheckEverywhere(t, "renewal-consent-"+c.lang, p.Location(t))
			main := p.Text(t, "main")
			for _, w := range c.consent {
				if !strings.Contains(main, w) {
					t.Errorf("the consent screen lacks %q:\n%s", w, main)
				}
			}
			p.Run(t, chromedp.Click(chromedp.CSS(`button[value="give"]`)))
			waitLeaves(t, p, "/consent")
			p.Run(t, chromedp.WaitVisible(chromedp.CSS("#f-make")))
			if !strings.Contains(p.Location(t), "/pages/details") {
				t.Fatalf("after consent: %s", p.Location(t))
			}
			p.CheckEverywhere(t, "renewal-details-"+c.lang, p.Location(t))
			if got := p.Value(t, "#f-make"); got != c.make {
				t.Errorf("make = %q, want %q from the vehicle records", got, c.make)
			}
			if got := p.Value(t, "#f-model"); got != c.model {
				t.Errorf("model = %q, want %q", got, c.model)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS("#f-insurer")),
				chromedp.SendKeys(chromedp.CSS("#f-insurer"), "Prairie Mutual"),
				chromedp.SendKeys(chromedp.CSS("#f-policy"), "PM-20391"),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
			)
			waitLocation(t, p, "/check", true)
			p.CheckEverywhere(t, "renewal-check-"+c.lang, p.Location(t))
			if main := p.Text(t, "main"); !strings.Contains(main, c.make) || !strings.Contains(main, c.model) {
				t.Errorf("check your answers lacks the vehicle:\n%s", main)
			}
		})
	}
}
