package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/identity"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
)

// TestBrowserPluginCatalogue walks the console's plug-in catalogue on the
// demo, in English and Spanish, checking every page at 1280, 390 and
// 320 px (axe, no sideways scroll, no machine text): the platform
// administrator finds "Plug-ins" in a header that still fits on one line,
// reads the catalogue (providers, data in words, agencies using each
// plug-in, health from the audit log) and the vehicle records' page
// (operations, events, enablements, a refused call among the latest
// problems, the deliveries link); the Adams County Clerk's administrator
// enables the DMV's vehicle records for their own agency, after a form
// the page refuses (an unknown service) that keeps what was chosen, and
// disables it again in Spanish. The registry holds each change and the
// audit log names the administrator.
func TestBrowserPluginCatalogue(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	gwen, err := a.Identity.AddStaff(ctx, identity.NewStaff{Email: "gwen.clerk-admin@example.gov", LegalName: "Gwen Administrator",
		Password: demo.StaffPassword, AgencyID: "adams-clerk", Role: identity.AgencyAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Identity.SetTOTPSecret(ctx, gwen.ID, demo.StaffTOTPSecret); err != nil {
		t.Fatal(err)
	}
	// One call that works and one the registry refuses (the clerk's
	// office has not enabled the plug-in yet).
	op := platform.Actor{Kind: platform.ActorOperator, ID: "test"}
	find := gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Plugin: "vehicle-registry", Operation: "find-vehicle",
		Path: map[string]string{"plate": "EX4KQ218"}, Data: map[string]any{"name": "Ana Citizen"}}
	if _, err := a.Gateway.Call(ctx, op, find); err != nil {
		t.Fatal(err)
	}
	find.Agency, find.Service = "adams-clerk", "adams-dog-licence"
	if _, err := a.Gateway.Call(ctx, op, find); platform.ErrorCode(err) != platform.CodeForbidden {
		t.Fatalf("a call for an agency that has not enabled the plug-in: %v", err)
	}
	used := totpSteps{}
	has := func(p *browsertest.Page, selector string, want ...string) {
		t.Helper()
		// Tags are upper case on screen (USWDS): compare without case.
		got := p.Text(t, selector)
		for _, w := range want {
			if !strings.Contains(strings.ToLower(got), strings.ToLower(w)) {
				t.Errorf("%s on %s: %q does not say %q", selector, p.Location(t), got, w)
			}
		}
	}
	const detail = "/console/plugins/vehicle-registry"

	t.Run("platform-admin", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "pat.admin@example.gov", "en", true, used)
		for _, lang := range []string{"en", "es"} {
			checkHeaderOneLine(t, p, base+"/console/plugins?lang="+lang, "platform administrator "+lang)
			has(p, `header nav a[href="/console/plugins"]`, map[string]string{"en": "Plug-ins", "es": "Complementos"}[lang])
			p.CheckEverywhere(t, "plugins-catalogue-"+lang, base+"/console/plugins?lang="+lang)
			has(p, "main table", map[string][]string{
				"en": {"DMV vehicle records", "Department of Motor Vehicles", "Name", "Home address", "Answers to “Renew your vehicle registration”", "Enabled", "Answering", "in the last 24 hours", "0 failed (0%)"},
				"es": {"Registros de vehículos del DMV", "Nombre", "Domicilio", "Respuestas a «Renovar el registro de su vehículo»", "Activado", "Responde", "en las últimas 24 horas"},
			}[lang]...)
			p.CheckEverywhere(t, "plugins-detail-"+lang, base+detail+"?lang="+lang)
			has(p, "main", map[string][]string{
				"en": {"find-vehicle", "GET /vehicles/{plate}", "3 seconds", "gov.portico.case.transitioned", "Refused: not allowed", "Deliveries and dead letters", "portico plugin register plugin.yaml"},
				"es": {"find-vehicle", "3 segundos", "Rechazada: no está permitida", "Entregas y mensajes no entregados"},
			}[lang]...)
			if n, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](`document.querySelectorAll('main a[href="`+detail+`/deliveries"]').length`)); err != nil || n != 1 {
				t.Errorf("the deliveries link: %d, %v", n, err)
			}
			p.CheckEverywhere(t, "plugins-use-dmv-"+lang, base+detail+"/agencies/dmv?lang="+lang)
		}
		// The operator removes plug-ins agencies use only with "force":
		// refused here, with the choice kept and nothing removed.
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+detail+"?lang=en")
		p.Run(t, chromedp.Click(chromedp.CSS(`form[action$="/remove"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#error-summary")))
		has(p, "#error-summary", "Agencies still use this plug-in")
		p.CheckHere(t, "plugins-remove-refused-en")
		if _, err := a.Plugins.Get(ctx, op, "vehicle-registry"); err != nil {
			t.Errorf("the refused removal removed it: %v", err)
		}
	})

	t.Run("agency-admin", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "gwen.clerk-admin@example.gov", "en", true, used)
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/console/plugins?lang=en")
		p.Run(t, chromedp.Click(chromedp.CSS(`main a[href="`+detail+`"]`)))
		waitLocation(t, p, detail, true)
		// Only their own agency is theirs to change.
		if n, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](`document.querySelectorAll('main a[href="`+detail+`/agencies/dmv"]').length`)); err != nil || n != 0 {
			t.Errorf("the clerk's administrator is offered the DMV's enablement: %d, %v", n, err)
		}
		use := detail + "/agencies/adams-clerk"
		p.Run(t, chromedp.Click(chromedp.CSS(`main a[href="`+use+`"]`)))
		waitLocation(t, p, use, true)
		p.CheckEverywhere(t, "plugins-use-clerk-en", base+use+"?lang=en")
		has(p, "main", "DMV vehicle records for Adams County Clerk", "Not enabled")

		// A form the page refuses: a service that is not the agency's.
		p.Run(t, chromedp.EmulateViewport(390, 900))
		p.Visit(t, base+use+"?lang=en")
		// USWDS hides the inputs behind their labels: click the labels.
		p.Run(t,
			chromedp.Click(chromedp.CSS(`label[for=data-1]`)), // the home address: off
			chromedp.Click(chromedp.CSS(`label[for=op-0]`)),   // find-vehicle: on
		)
		if _, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`document.querySelector('#service option').value = 'vehicle-registration-renewal', true`)); err != nil {
			t.Fatal(err)
		}
		p.Run(t,
			chromedp.Click(chromedp.CSS(`form[action$="/enable"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#error-summary")),
		)
		has(p, "#error-summary", "Choose one of the agency's services, or every service")
		p.CheckHere(t, "plugins-use-clerk-refused-en")
		checked, err := chromedp.Run(p.Context(), chromedp.Evaluate[[]string](`[...document.querySelectorAll('main input:checked')].map(i => i.value)`))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"name", "answers:vehicle-registration-renewal", "find-vehicle"}; !slices.Equal(checked, want) {
			t.Errorf("after the refusal the form has %q checked, want %q", checked, want)
		}
		if pl, err := a.Plugins.Get(ctx, op, "vehicle-registry"); err != nil || len(pl.Enablements) != 1 {
			t.Fatalf("the refused form changed the enablements: %+v, %v", pl, err)
		}

		// Now as meant: the name only, every service, find-vehicle.
		p.Visit(t, base+use+"?lang=en")
		p.Run(t,
			chromedp.Click(chromedp.CSS(`label[for=data-1]`)), // the home address: off
			chromedp.Click(chromedp.CSS(`label[for=data-2]`)), // the renewal's answers: off
			chromedp.Click(chromedp.CSS(`label[for=op-0]`)),   // find-vehicle: on
			chromedp.Click(chromedp.CSS(`form[action$="/enable"] button[type=submit]`)),
		)
		waitLocation(t, p, "done=enabled", true)
		has(p, "main [role=status]", "Saved: Adams County Clerk uses this plug-in")
		has(p, "main", "Adams County Clerk", "Every service of the agency: find-vehicle")
		pl, err := a.Plugins.Get(ctx, op, "vehicle-registry")
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(pl.Enablements, func(e plugin.Enablement) bool { return e.Agency == "adams-clerk" })
		if i < 0 || pl.Enablements[i].Status != plugin.StatusEnabled || !slices.Equal(pl.Enablements[i].Data, []string{"name"}) {
			t.Fatalf("the clerk's enablement: %+v", pl.Enablements)
		}
		if !slices.ContainsFunc(pl.Access, func(r plugin.AccessRight) bool {
			return r.Agency == "adams-clerk" && r.Service == plugin.AllServices && r.Operation == "find-vehicle"
		}) {
			t.Errorf("the clerk's access rights: %+v", pl.Access)
		}
		// The call refused before is allowed now.
		if _, err := a.Gateway.Call(ctx, op, find); err != nil {
			t.Errorf("the clerk's call after enabling: %v", err)
		}

		// In Spanish: the page, then disabling.
		p.CheckEverywhere(t, "plugins-use-clerk-es", base+use+"?lang=es")
		has(p, "main", "Registros de vehículos del DMV para Secretaría", "Activado")
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+use+"?lang=es")
		p.Run(t, chromedp.Click(chromedp.CSS(`form[action$="/disable"] button[type=submit]`)))
		waitLocation(t, p, "done=disabled", true)
		has(p, "main [role=status]", "Desactivado para")
		p.CheckEverywhere(t, "plugins-detail-clerk-es", base+detail+"?lang=es")
		if pl, err := a.Plugins.Get(ctx, op, "vehicle-registry"); err != nil ||
			!slices.ContainsFunc(pl.Enablements, func(e plugin.Enablement) bool { return e.Agency == "adams-clerk" && e.Status == plugin.StatusDisabled }) {
			t.Errorf("after disabling: %+v, %v", pl, err)
		}
		entries, err := a.Audit.List(ctx, audit.Filter{Subject: "plugin:vehicle-registry", AgencyID: "adams-clerk", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			if e.Actor == "staff:"+gwen.ID {
				actions = append(actions, e.Action)
			}
		}
		if want := []string{"plugin.enable", "plugin.disable"}; !slices.Equal(actions, want) {
			t.Errorf("the clerk's administrator's audited changes: %q, want %q", actions, want)
		}
	})
}
