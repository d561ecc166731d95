package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/demo"
)

// TestTourEveryRole signs in to the demo as each kind of person who uses
// it — a visitor, a citizen in English, a citizen in Spanish, a clerk's
// caseworker, a finance officer, an agency administrator and a platform
// administrator — and opens the pages each of them lands on, on a desktop
// (1280 px) and a phone (390 px), checking each with axe at both widths,
// that it never scrolls sideways, and that it
// neither errors nor shows raw machine text (ISO dates, "UTC", Go's
// "%!" formatting mistakes). With PORTICO_SCREENSHOTS=DIR every page is
// kept as a PNG for a person to look at. The demo seeds cases, so the
// caseworkers open one of their agency's and the citizens their own
// (TestBrowserCaseworker works them).
func TestTourEveryRole(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	dog := demoCase(t, a, "ana.citizen@example.com", "adams-dog-licence")
	renewal := demoCase(t, a, "beto.ciudadano@example.com", "vehicle-registration-renewal")

	type role struct {
		name, email, lang string
		staff             bool
		pages             []string
	}
	roles := []role{
		{name: "visitor", lang: "en", pages: []string{"/", "/services", "/services/adams-marriage-licence", "/government", "/sign-in"}},
		{name: "visitor-es", lang: "es", pages: []string{"/", "/services/vehicle-registration-renewal"}},
		{name: "citizen-en", email: "ana.citizen@example.com", lang: "en", pages: []string{"/dashboard", "/inbox", "/coming-up", "/services/for-you", "/account", "/account/notifications", "/account/security", "/applications/" + dog.ID}},
		{name: "citizen-es", email: "beto.ciudadano@example.com", lang: "es", pages: []string{"/dashboard", "/inbox", "/coming-up", "/account", "/applications/" + renewal.ID}},
		{name: "caseworker", email: "eli.clerk@example.gov", lang: "en", staff: true, pages: []string{"/console", "/console/cases", "/console/cases/" + dog.ID}},
		{name: "caseworker-es", email: "casey.dmv@example.gov", lang: "es", staff: true, pages: []string{"/console", "/console/cases", "/console/cases/" + renewal.ID}},
		{name: "finance", email: "fay.clerk-finance@example.gov", lang: "en", staff: true, pages: []string{"/console/cases"}},
		{name: "agency-admin", email: "dana.dmv-admin@example.gov", lang: "en", staff: true, pages: []string{"/console", "/console/agencies/dmv"}},
		{name: "platform-admin", email: "pat.admin@example.gov", lang: "en", staff: true, pages: []string{"/console", "/admin/users"}},
	}
	usedTOTP := map[string]bool{}
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			p := b.Page(t)
			if r.email != "" {
				signInBrowser(t, p, base, r.email, r.lang, r.staff, usedTOTP)
			}
			for _, path := range r.pages {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				name := r.name + strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(path)
				p.CheckEverywhere(t, name, base+path+sep+"lang="+r.lang, 1280, 390)
			}
			if r.email != "" {
				p.Run(t, chromedp.EmulateViewport(1280, 900))
				p.Visit(t, base+"/?lang="+r.lang)
				p.Run(t, chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/sign-in"]`)))
			}
		})
	}
}

// signInBrowser signs p in through the real sign-in pages, with the demo's
// authenticator app for staff. A TOTP code is accepted once per account
// and 30-second step, so a second sign-in of the same account waits for
// the next step.
func signInBrowser(t *testing.T, p *browsertest.Page, base, email, lang string, staff bool, used map[string]bool) {
	t.Helper()
	pw := demo.CitizenPassword
	if staff {
		pw = demo.StaffPassword
	}
	p.Visit(t, base+"/sign-in?lang="+lang)
	p.Run(t,
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
	)
	if staff {
		p.Run(t, chromedp.WaitVisible(chromedp.CSS("#code")))
		if used[email] {
			next := (time.Now().Unix()/30 + 1) * 30
			time.Sleep(time.Until(time.Unix(next, 0)) + time.Second)
		}
		used[email] = true
		code, err := totp.GenerateCode(demo.StaffTOTPSecret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p.Run(t,
			chromedp.SendKeys(chromedp.CSS("#code"), code),
			chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		)
	}
	waitLeaves(t, p, "/sign-in")
}
