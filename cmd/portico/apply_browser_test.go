package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/demo"
)

// TestApplyBrowserJourney applies for a marriage licence in headless
// Chromium, in English (Ana) and Spanish (Beto): start, the prefilled
// first page with a bad date then a good one, the other pages, an upload,
// "save and come back later", resuming from the dashboard, checking and
// submitting. axe-core checks every page.
func TestApplyBrowserJourney(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	decree := filepath.Join(t.TempDir(), "decree.pdf")
	if err := os.WriteFile(decree, []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	people := map[string]string{"en": "ana.citizen@example.com", "es": "beto.ciudadano@example.com"}
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			p := b.Page(t)
			p.Visit(t, base+"/sign-in?lang="+lang)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#email"), people[lang]),
				chromedp.SendKeys(chromedp.CSS("#password"), demo.CitizenPassword),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(`header a[href="/dashboard"]`)),
			)
			p.Visit(t, base+"/services/adams-marriage-licence/apply")
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/adams-marriage-licence/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#f-born-day")),
			)
			p.CheckA11y(t)
			if got := p.Value(t, "#f-address-line1"); got == "" {
				t.Error("address not prefilled from the profile")
			}
			// A date that does not exist: an error, and what was typed stays.
			p.Run(t,
				chromedp.Clear(chromedp.CSS("#f-born-day")),
				chromedp.SendKeys(chromedp.CSS("#f-born-day"), "31"),
				chromedp.Clear(chromedp.CSS("#f-born-month")),
				chromedp.SendKeys(chromedp.CSS("#f-born-month"), "2"),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			p.CheckA11y(t)
			if got := p.Value(t, "#f-born-day"); got != "31" {
				t.Errorf("typed day not kept: %q", got)
			}
			p.Run(t,
				chromedp.Clear(chromedp.CSS("#f-born-day")),
				chromedp.SendKeys(chromedp.CSS("#f-born-day"), "12"),
				chromedp.Clear(chromedp.CSS("#f-born-month")),
				chromedp.SendKeys(chromedp.CSS("#f-born-month"), "4"),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS("#f-email")),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#f-name"), "Sam Partner"),
				chromedp.SendKeys(chromedp.CSS("#f-born-day"), "3"),
				chromedp.SendKeys(chromedp.CSS("#f-born-month"), "7"),
				chromedp.SendKeys(chromedp.CSS("#f-born-year"), "1991"),
				chromedp.SendKeys(chromedp.CSS("#f-email"), "sam@example.com"),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS(`label[for="f-married_before-0"]`)),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`label[for="f-married_before-0"]`)),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitReady(chromedp.CSS("#f-decree")),
			)
			p.CheckA11y(t)
			// Upload, then leave: the draft is saved with the file.
			p.Run(t,
				chromedp.SetUploadFiles(chromedp.CSS("#f-decree"), []string{decree}),
				chromedp.Click(chromedp.CSS(`button[value="later"]`)),
				// The dashboard's "saved" notice: the form page has links to
				// /apply/ too (Back), so wait for what only the dashboard has.
				chromedp.WaitVisible(chromedp.CSS(`main [role=status]`)),
			)
			p.CheckA11y(t)
			// Resume from the dashboard: every page is answered, so it is
			// check your answers.
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main a[href^="/apply/"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/submit"] button`)),
			)
			p.CheckA11y(t)
			if got := p.Text(t, "main"); !strings.Contains(got, "decree.pdf") || !strings.Contains(got, "$60.00") {
				t.Errorf("check page lacks the file or the fee:\n%s", got)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action$="/submit"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#reference")),
			)
			p.CheckA11y(t)
			ref := p.Text(t, "#reference")
			if !regexp.MustCompile(`^ADAMS-CLERK-\d{4}-\d{6}$`).MatchString(ref) {
				t.Errorf("reference = %q", ref)
			}
			// Another draft, deleted from the dashboard after confirming.
			p.Visit(t, base+"/services/springfield-pothole/apply")
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/springfield-pothole/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#f-location")),
			)
			p.CheckA11y(t)
			p.Visit(t, base+"/dashboard")
			p.CheckA11y(t)
			if got := p.Text(t, "main"); !strings.Contains(got, ref) {
				t.Errorf("dashboard lacks %s:\n%s", ref, got)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main a[href$="/withdraw"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/withdraw"] button`)),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action$="/withdraw"] button`)),
				chromedp.WaitVisible(chromedp.CSS(`main [role=status]`)),
			)
			p.CheckA11y(t)
		})
	}
}
