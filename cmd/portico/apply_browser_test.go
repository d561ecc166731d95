package main

import (
	"io"
	"net/http"
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
// Chromium, in English (Ana) and Spanish (Beto): find it in the catalog,
// start, the prefilled first page with a bad date then a good one, the
// other pages, an upload, "save and come back later", resuming from the
// dashboard, checking and submitting. Then the case is worked to the end:
// the clerk's caseworker asks for more information, the applicant answers
// on their case page, finance records the fee paid at the counter, and the
// caseworker accepts the application and records the signing. axe-core
// checks every page.
func TestApplyBrowserJourney(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	decree := filepath.Join(t.TempDir(), "decree.pdf")
	if err := os.WriteFile(decree, []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	people := map[string]string{"en": "ana.citizen@example.com", "es": "beto.ciudadano@example.com"}
	eli := signInClient(t, base, "eli.clerk@example.gov", true)         // Adams County Clerk caseworker
	fay := signInClient(t, base, "fay.clerk-finance@example.gov", true) // Adams County Clerk finance
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
			waitLeaves(t, p, "/sign-in")
			// Find it: search the catalog and open its start page.
			p.Visit(t, base+"/services?lang="+lang+"&q="+map[string]string{"en": "marriage", "es": "matrimonio"}[lang])
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main a[href="/services/adams-marriage-licence"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action="/services/adams-marriage-licence/apply"] button`)),
			)
			p.CheckA11y(t)
			// Start now leads straight into the form.
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
			caseID := strings.SplitN(strings.SplitN(p.Location(t), "/apply/", 2)[1], "/", 2)[0]
			workCase(t, base, lang, p, signInClient(t, base, people[lang], false), eli, fay, caseID, ref)
			// Another draft, deleted from the dashboard after confirming.
			p.Visit(t, base+"/services/adams-birth-certificate")
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/adams-birth-certificate/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#f-name")),
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

// workCase takes a submitted marriage licence application through case
// work in the browser. The tabs of one browser share cookies, so the one
// tab p changes hands: each step puts the session of whoever acts into it
// (the applicant's from an HTTP sign-in, as the browser's own is replaced),
// and waits for the page's confirmation.
func workCase(t *testing.T, base, lang string, p *browsertest.Page, applicant, eli, fay *http.Client, id, ref string) {
	staffCase := base + "/console/cases/" + id + "?lang=" + lang
	useSession(t, p, eli, base)
	p.Visit(t, base+"/console/cases?lang="+lang)
	if got := p.Text(t, "main"); !strings.Contains(got, ref) {
		t.Fatalf("%s is not in the clerk's queue:\n%s", ref, got)
	}
	act := func(who *http.Client, url string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		useSession(t, p, who, base)
		p.Visit(t, url)
		p.Run(t, actions...)
		// The form posts and redirects to the page with ?done=; wait for
		// that document before looking for its confirmation.
		waitLocation(t, p, "done=", true)
		p.Run(t, chromedp.WaitVisible(chromedp.CSS(`.usa-alert--success[role=status]`)))
		p.CheckA11y(t)
	}
	act(eli, staffCase,
		chromedp.SendKeys(chromedp.CSS("#request-body"), "Please tell us where you would like the ceremony."),
		chromedp.Click(chromedp.CSS("#request-submit")))
	// The uploaded decree is linked from the answers; staff download it as
	// an attachment, never rendered inline.
	_, casePage := page(t, eli, staffCase)
	m := regexp.MustCompile(`href="(/console/cases/[^"]+/files/[^"]+)"`).FindStringSubmatch(casePage)
	if m == nil {
		t.Fatalf("no link to the decree on the staff case page")
	}
	href := m[1]
	req, _ := http.NewRequest("GET", base+href, nil)
	resp, err := eli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(string(body), "%PDF") {
		t.Fatalf("staff download of %s: %d %v", href, resp.StatusCode, resp.Header)
	}
	// The applicant answers on their case page.
	act(applicant, base+"/applications/"+id+"?lang="+lang,
		chromedp.SendKeys(chromedp.CSS("#body"), "At the county courthouse, please."),
		chromedp.Click(chromedp.CSS("#respond-submit")))
	// Finance records the fee paid at the counter.
	act(fay, staffCase,
		chromedp.SendKeys(chromedp.CSS("#amount"), "60.00"),
		chromedp.SendKeys(chromedp.CSS("#ref"), "Counter receipt 0042"),
		chromedp.Click(chromedp.CSS(`form[action$="/payment"] button`)))
	// The caseworker accepts, then records the signing.
	for _, tr := range []string{"accept", "sign"} {
		act(eli, staffCase, chromedp.Click(chromedp.CSS(`button[data-transition="`+tr+`"]`)))
	}
	useSession(t, p, applicant, base)
	p.Visit(t, base+"/applications/"+id+"?lang="+lang)
	want := map[string]string{"en": "License issued", "es": "Licencia emitida"}[lang]
	if got := p.Text(t, "#case-state"); !strings.Contains(got, want) {
		t.Errorf("the applicant sees state %q, want %q", got, want)
	}
}
