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
	usedTOTP := totpSteps{}
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
// authenticator app for staff (used remembers the codes already spent).
func signInBrowser(t *testing.T, p *browsertest.Page, base, email, lang string, staff bool, used totpSteps) {
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
		p.Run(t,
			chromedp.SendKeys(chromedp.CSS("#code"), used.code(t, email)),
			chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		)
	}
	waitLeaves(t, p, "/sign-in")
}

// totpSteps remembers, per staff account, the last TOTP time step a
// sign-in spent. The demo accepts a code once per account and 30-second
// step, for the step before now, now and the step after (clock drift), so
// an account can sign in three times at once before a journey must wait
// for the next step — as a person with an authenticator app would.
type totpSteps map[string]int64

func (used totpSteps) code(t *testing.T, email string) string {
	t.Helper()
	const period = 30
	for {
		now := time.Now()
		step := now.Unix() / period
		next := step - 1
		if period-now.Unix()%period <= 3 {
			// The step before now stops being accepted at the boundary,
			// too soon to type it in.
			next = step
		}
		if last, ok := used[email]; ok && next <= last {
			next = last + 1
		}
		if next <= step+1 {
			used[email] = next
			code, err := totp.GenerateCode(demo.StaffTOTPSecret, time.Unix(next*period, 0))
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
		time.Sleep(time.Until(time.Unix((step+1)*period, 0)) + 100*time.Millisecond)
	}
}
