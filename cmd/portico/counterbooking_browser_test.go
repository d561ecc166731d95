package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserCounterBooking books a passport appointment at the Adams
// County Clerk's counter in the demo, where the private provider's
// counter-booking plug-in runs: Ana answers the first pages, the time
// page offers the free times of the day she chose (checked at 1280, 390
// and 320 px, English and Spanish, axe-core), she picks one, agrees on
// the consent screen that the plug-in books it in her name, sends, and
// the Clerk's caseworker reads the time on the case and the plug-in's
// answer on its timeline. A second booking whose consent she declines is
// refused by the gateway: the caseworker's case page warns that the
// plug-in call failed (checked the same way, English and Spanish).
func TestBrowserCounterBooking(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	used := totpSteps{}
	day := nextWeekday(t) // YYYY-MM-DD
	has := func(t *testing.T, p *browsertest.Page, selector string, want ...string) {
		t.Helper()
		got := p.Text(t, selector)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s on %s: %q does not say %q", selector, p.Location(t), got, w)
			}
		}
	}
	// book fills the form up to the time page and returns its URL.
	book := func(t *testing.T, p *browsertest.Page) string {
		t.Helper()
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/services/adams-passport-appointment?lang=en")
		p.Run(t,
			chromedp.Click(chromedp.CSS(`form[action="/services/adams-passport-appointment/apply"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#f-applicants")),
			chromedp.SendKeys(chromedp.CSS("#f-applicants"), "1"),
			chromedp.Click(chromedp.CSS(`label[for="f-minors-1"]`)),
			chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
			chromedp.WaitVisible(chromedp.CSS("#f-day-month")),
			chromedp.Click(chromedp.CSS(`label[for="f-office-0"]`)),
			chromedp.SendKeys(chromedp.CSS("#f-day-month"), day[5:7]),
			chromedp.SendKeys(chromedp.CSS("#f-day-day"), day[8:10]),
			chromedp.SendKeys(chromedp.CSS("#f-day-year"), day[:4]),
			chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
			chromedp.WaitVisible(chromedp.CSS(`label[for="f-slot-0"]`)),
		)
		loc := p.Location(t)
		if !strings.HasSuffix(loc, "/pages/slot") {
			t.Fatalf("after the day: %s", loc)
		}
		return loc
	}
	// choose picks the first free time and goes on to the consent screen.
	choose := func(t *testing.T, p *browsertest.Page, slot string, consent string) {
		t.Helper()
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, slot+"?lang=en")
		p.Run(t,
			chromedp.Click(chromedp.CSS(`label[for="f-slot-0"]`)),
			chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value="give"]`)),
		)
		if consent != "" {
			has(t, p, "main", consent)
		}
	}
	send := func(t *testing.T, p *browsertest.Page) string {
		t.Helper()
		p.Run(t,
			chromedp.WaitVisible(chromedp.CSS(`main form[action$="/submit"] button`)),
			chromedp.Click(chromedp.CSS(`main form[action$="/submit"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`main a[href^="/applications/"]`)),
			chromedp.Click(chromedp.CSS(`main a[href^="/applications/"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#timeline`)),
		)
		loc := p.Location(t)
		_, id, ok := strings.Cut(loc, "/applications/")
		if !ok {
			t.Fatalf("the confirmation's link went to %s", loc)
		}
		id, _, _ = strings.Cut(id, "?")
		return id
	}

	var booked, refused string
	t.Run("citizen", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "ana.citizen@example.com", "en", false, used)
		slot := book(t, p)
		p.CheckEverywhere(t, "booking-slot", slot+"?lang=en")
		has(t, p, "main", "Time of your appointment")
		p.CheckEverywhere(t, "booking-slot-es", slot+"?lang=es")
		has(t, p, "main", "Hora de su cita")

		choose(t, p, slot, "does part of this service for you after you send your application")
		has(t, p, "main", "QueueWise Scheduling", "Your email address", "shown only to you")
		p.CheckHere(t, "booking-consent")
		p.Run(t, chromedp.Click(chromedp.CSS(`button[value="give"]`)))
		p.Run(t, chromedp.WaitVisible(chromedp.CSS(`main form[action$="/submit"] button`)))
		has(t, p, "main", "Time of your appointment", day[:4])
		p.CheckHere(t, "booking-check")
		booked = send(t, p)

		// Ana withdraws her agreement on "Who has used my data", then
		// books again and declines: it can still be sent, and the booking
		// call is refused.
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/account/data?lang=en")
		has(t, p, "main", "Some forms start with details from your profile")
		p.Run(t,
			chromedp.Click(chromedp.CSS(`form[action="/account/data/withdraw"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`main .usa-alert--success`)),
		)
		slot = book(t, p)
		choose(t, p, slot, "")
		p.Run(t, chromedp.Click(chromedp.CSS(`button[value="decline"]`)))
		refused = send(t, p)
	})
	waitCall(t, a, booked, "ok")
	waitCall(t, a, refused, "failed")

	t.Run("caseworker", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "eli.clerk@example.gov", "en", true, used)
		p.CheckEverywhere(t, "booking-case-staff", base+"/console/cases/"+booked+"?lang=en")
		has(t, p, "main", "Time of your appointment")
		has(t, p, "#timeline", "The counter-booking plug-in answered (book-slot)")
		if strings.Contains(p.Text(t, "main"), "A plug-in call failed") {
			t.Error("a booked case warns of a failed plug-in call")
		}
		p.CheckEverywhere(t, "plugin-failed-staff", base+"/console/cases/"+refused+"?lang=en")
		// The failed call, with what went wrong and a way to try again.
		has(t, p, "#plugin-calls", "Calls to plug-ins", "(book-slot) gave no usable answer after", "try it again, or act on this case yourself")
		if n, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](`document.querySelectorAll('#plugin-calls button[id$="-retry"]').length`)); err != nil || n != 1 {
			t.Errorf("retry buttons on the failed call: %d (%v), want 1", n, err)
		}
		p.CheckEverywhere(t, "plugin-failed-staff-es", base+"/console/cases/"+refused+"?lang=es")
		has(t, p, "#plugin-calls", "book-slot")
	})
}

// waitCall waits until the case's plug-in call ends with status.
func waitCall(t *testing.T, a *app.App, caseID, status string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		err := a.DB.Read().QueryRowContext(context.Background(), `SELECT status FROM case_plugin_calls WHERE case_id = $1`, caseID).Scan(&got)
		if err == nil && got == status {
			return
		}
	}
	t.Fatalf("case %s: plug-in call %q, want %q", caseID, got, status)
}
