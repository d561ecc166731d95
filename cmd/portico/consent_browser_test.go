package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
)

// TestBrowserConsent: a citizen is asked, in English (Ana) and Spanish
// (Beto), whether the vehicle registration renewal may share their data
// with the DMV's vehicle records. The screen says who, what, what for and
// until when; "No" goes back with consent=declined; "Yes" records it and
// goes back; the gateway then calls the plug-in for them, and "Who has
// used my data" lists the consent and that use in plain words. Withdrawing
// it there takes effect at once: the next call is refused. Every page is
// checked at 1280, 390 and 320 px (axe-core, reflow, machine text).
func TestBrowserConsent(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	publishWithPlugins(t, a)
	ctx := context.Background()
	staff := platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	for _, c := range []struct {
		lang, email, plate string
		want               []string // on the consent screen
		used               string   // on the data page, the use
		withdrawn          string
	}{
		{"en", "ana.citizen@example.com", "EX4KQ218",
			[]string{"DMV vehicle records, run by the Department of Motor Vehicles", "Your name", "Your answers to “Renew your vehicle registration”",
				"to apply for “Renew your vehicle registration”", "Until ", "Who has used my data"},
			"At the request of the Department of Motor Vehicles, DMV vehicle records received your name for “Renew your vehicle registration”.",
			"You withdrew your agreement."},
		{"es", "beto.ciudadano@example.com", "EX7MB904",
			[]string{"a cargo del Departamento de Vehículos Motorizados", "Su nombre", "Sus respuestas a «Renovar el registro de su vehículo»",
				"para solicitar «Renovar el registro de su vehículo»", "Hasta el ", "Quién ha usado mis datos"},
			"A pedido del Departamento de Vehículos Motorizados, Registros de vehículos del DMV recibió su nombre para «Renovar el registro de su vehículo».",
			"Usted retiró su autorización."},
	} {
		t.Run(c.lang, func(t *testing.T) {
			acct, err := a.Identity.AccountByEmail(ctx, c.email)
			if err != nil {
				t.Fatal(err)
			}
			call := func() error {
				_, err := a.Gateway.Call(ctx, staff, gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Person: acct.ID,
					Plugin: "vehicle-registry", Operation: "find-vehicle", Path: map[string]string{"plate": c.plate}, Data: map[string]any{"name": "A Name"}})
				return err
			}
			if err := call(); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("a call before consent: %v", err)
			}
			p := b.Page(t)
			signInBrowser(t, p, base, c.email, c.lang, false, nil)
			waitLeaves(t, p, "/sign-in")
			screen := base + "/consent?" + url.Values{"service": {"vehicle-registration-renewal"}, "plugin": {"vehicle-registry"},
				"return": {"/dashboard?from=renewal"}, "lang": {c.lang}}.Encode()
			p.CheckEverywhere(t, "consent-screen-"+c.lang, screen)
			main := p.Text(t, "main")
			for _, w := range c.want {
				if !strings.Contains(main, w) {
					t.Errorf("the consent screen lacks %q:\n%s", w, main)
				}
			}
			// No: back, with consent=declined; nothing recorded.
			p.Run(t, chromedp.Click(chromedp.CSS(`button[value="decline"]`)))
			waitLeaves(t, p, "/consent")
			if loc := p.Location(t); !strings.Contains(loc, "/dashboard?") || !strings.Contains(loc, "consent=declined") || !strings.Contains(loc, "from=renewal") {
				t.Errorf("declining went to %s", loc)
			}
			if err := call(); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("a call after declining: %v", err)
			}
			// Yes: recorded, back to where the person was.
			p.Visit(t, screen)
			p.Run(t, chromedp.Click(chromedp.CSS(`button[value="give"]`)))
			waitLeaves(t, p, "/consent")
			if loc := p.Location(t); !strings.HasSuffix(loc, "/dashboard?from=renewal") {
				t.Errorf("giving went to %s", loc)
			}
			if err := call(); err != nil {
				t.Fatalf("a call with consent: %v", err)
			}
			// Who has used my data: the consent and the use.
			p.CheckEverywhere(t, "consent-data-"+c.lang, base+"/account/data?lang="+c.lang)
			main = p.Text(t, "main")
			for _, w := range []string{c.used, c.want[0]} {
				if !strings.Contains(main, w) {
					t.Errorf("the data page lacks %q:\n%s", w, main)
				}
			}
			// Withdraw: at once.
			p.Run(t, chromedp.Click(chromedp.CSS(`form[action="/account/data/withdraw"] button`)))
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`.usa-alert--success`)))
			if got := p.Text(t, ".usa-alert--success"); !strings.Contains(got, c.withdrawn) {
				t.Errorf("after withdrawing: %q", got)
			}
			p.CheckHere(t, "consent-withdrawn-"+c.lang)
			if n, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](`document.querySelectorAll('form[action="/account/data/withdraw"]').length`)); err != nil || n != 0 {
				t.Errorf("a withdrawn consent still offers withdrawal (%d, %v)", n, err)
			}
			if err := call(); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("a call after withdrawal: %v", err)
			}
			// The account page links the data page.
			p.Visit(t, base+"/account?lang="+c.lang)
			if n, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](`document.querySelectorAll('a[href="/account/data"]').length`)); err != nil || n != 1 {
				t.Errorf("the account page links /account/data %d times (%v)", n, err)
			}
		})
	}
}
