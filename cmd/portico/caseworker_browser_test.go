package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/casework"
)

// TestBrowserCaseworker walks the caseworker's day on the demo's seeded
// cases, in English and Spanish, checking every page at 1280, 390 and
// 320 px (axe, no sideways scroll, no machine text): the Adams County
// Clerk's caseworker signs in, finds the Console link in the header and
// the console home with the agency's counts, opens the queue and Ana's dog
// licence, and reads who applied and who did what on the timeline; the
// clerk's finance officer records Ana's fee at the counter with a receipt
// number; Ana reads the receipt on her case page; the platform
// administrator's console shows every agency; the DMV's Spanish-speaking
// caseworker works Beto's overdue renewal in Spanish, and Ana's renewed
// registration shows its receipt in Spanish.
func TestBrowserCaseworker(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	dog := demoCase(t, a, "ana.citizen@example.com", "adams-dog-licence")
	overdue := demoCase(t, a, "beto.ciudadano@example.com", "vehicle-registration-renewal")
	renewed := demoCase(t, a, "ana.citizen@example.com", "vehicle-registration-renewal")
	used := totpSteps{}
	signOut := func(p *browsertest.Page) {
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/")
		p.Run(t, chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/sign-in"]`)))
	}
	has := func(p *browsertest.Page, selector string, want ...string) {
		t.Helper()
		got := p.Text(t, selector)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s on %s: %q does not say %q", selector, p.Location(t), got, w)
			}
		}
	}

	t.Run("caseworker", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "eli.clerk@example.gov", "en", true, used)
		p.CheckEverywhere(t, "caseworker-console", base+"/console?lang=en")
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/console?lang=en")
		has(p, `header nav a[href="/console"]`, "Console")
		has(p, "main h2", "Adams County Clerk")
		has(p, "main", "2 open cases", "0 cases past their time limit", "Get a dog license", "Submitted", "Register to vote or update your registration", "Received", "Recent activity",
			dog.Reference, "Eli Clerk (Caseworker)")
		p.CheckEverywhere(t, "caseworker-queue", base+"/console/cases?lang=en")
		has(p, "main table", dog.Reference)
		p.CheckEverywhere(t, "caseworker-case", base+"/console/cases/"+dog.ID+"?lang=en")
		has(p, "#applicant", "Ana Citizen", "April 12, 1988", "ana.citizen@example.com", "12 Elm Street", "Springfield, EX 70101")
		has(p, "#timeline", "Ana Citizen (applicant)", "Eli Clerk (Caseworker)", "System", "Portico")
		if strings.Contains(p.Text(t, "#timeline"), "· Applicant") {
			t.Error("the timeline still credits someone as plain \"Applicant\"")
		}
		signOut(p)
	})

	t.Run("finance", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "fay.clerk-finance@example.gov", "en", true, used)
		p.Run(t, chromedp.EmulateViewport(390, 900))
		p.Visit(t, base+"/console/cases/"+dog.ID+"?lang=en")
		p.Run(t,
			chromedp.SendKeys(chromedp.CSS("#amount"), "10.00"),
			chromedp.SendKeys(chromedp.CSS("#ref"), "12345"),
			chromedp.Click(chromedp.CSS(`form[action$="/payment"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#receipts`)),
		)
		has(p, "#receipts", "Paid $10.00 on", "receipt 12345")
		has(p, "#timeline", "Payment received: $10.00, receipt 12345", "Fay Finance (Finance)")
		p.CheckEverywhere(t, "finance-case-paid", base+"/console/cases/"+dog.ID+"?lang=en")
		signOut(p)
	})

	t.Run("citizen", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "ana.citizen@example.com", "en", false, used)
		p.CheckEverywhere(t, "citizen-case-receipt", base+"/applications/"+dog.ID+"?lang=en")
		has(p, "#receipts", "Paid $10.00 on", "— receipt 12345")
		has(p, "#timeline", "You", "Adams County Clerk")
		if strings.Contains(p.Text(t, "main"), "Fay Finance") {
			t.Error("the citizen sees a staff member's name")
		}
		p.CheckEverywhere(t, "citizen-case-receipt-es", base+"/applications/"+renewed.ID+"?lang=es")
		has(p, "#receipts", "Pagó $45.00 el", "recibo 20431")
		has(p, "#timeline", "Usted", "Departamento de Vehículos Motorizados")
		signOut(p)
	})

	t.Run("platform-admin", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "pat.admin@example.gov", "en", true, used)
		p.CheckEverywhere(t, "platform-admin-console", base+"/console?lang=en")
		has(p, "main", "Every agency", "Adams County Clerk", "Department of Motor Vehicles", "Springfield Public Works", "1 open case", "1 case past its time limit")
		has(p, `main a[href="/admin/users"]`, "Staff accounts")
		// The administrator's other staff pages reflow on a phone too.
		p.CheckEverywhere(t, "platform-admin-users", base+"/admin/users?lang=en")
		p.CheckEverywhere(t, "platform-admin-agency", base+"/console/agencies/adams-clerk?lang=en")
		if strings.Contains(p.Text(t, "main"), "Ask an administrator") {
			t.Error("the platform administrator is told to ask for a role")
		}
		signOut(p)
	})

	t.Run("caseworker-es", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "casey.dmv@example.gov", "es", true, used)
		p.CheckEverywhere(t, "caseworker-es-console", base+"/console?lang=es")
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/console?lang=es")
		has(p, `header nav a[href="/console"]`, "Consola")
		has(p, "main", "Departamento de Vehículos Motorizados", "1 caso abierto", "1 caso fuera de plazo", "Actividad reciente")
		p.CheckEverywhere(t, "caseworker-es-queue", base+"/console/cases?lang=es&sla=overdue")
		has(p, "main table", overdue.Reference)
		p.CheckEverywhere(t, "caseworker-es-case", base+"/console/cases/"+overdue.ID+"?lang=es")
		has(p, "#applicant", "Beto Ciudadano", "30 de septiembre de 1975", "beto.ciudadano@example.com", "Español")
		has(p, "#timeline", "Beto Ciudadano (solicitante)", "Casey Caseworker (", "Sistema")
		has(p, "#overdue", "")
		signOut(p)
	})
}

// demoCase returns the demo's case of email's citizen for service.
func demoCase(t *testing.T, a *app.App, email, service string) casework.Case {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Identity.AccountByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := a.Casework.ForAccount(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ServiceID == service {
			return c
		}
	}
	t.Fatalf("the demo has no %s case for %s", service, email)
	return casework.Case{}
}
