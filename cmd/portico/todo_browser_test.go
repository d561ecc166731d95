package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/i18n"
)

// TestBrowserToDo: Ana applies for an Adams County dog license in
// headless Chromium (in English, then another dog in Spanish); the
// workflow asks for the $10.00 fee at submission. Her home, /dashboard,
// lists it with the Adams County Clerk, the due date and "How to pay at
// the counter" (the office's address and opening hours, the reference to
// quote), with the total she owes; Coming up shows the amount; her
// calendar feed (and, in Spanish, the event file) has it with where to
// pay. Once the clerk's finance staff record the fee paid, it leaves the
// list. Every page is checked at 1280, 390 and 320 px.
func TestBrowserToDo(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	cert := filepath.Join(t.TempDir(), "rabies.pdf")
	if err := os.WriteFile(cert, []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const anaEmail = "ana.citizen@example.com"
	p := b.Page(t)
	signInBrowser(t, p, base, anaEmail, "en", false, totpSteps{})
	ana := signInClient(t, base, anaEmail, false)
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	// Ana also owes the demo's property tax installment (and whatever the
	// demo's seeded cases ask of her): the total names more than one agency.
	texts := map[string]struct {
		agency, counter, hours string
		total                  *regexp.Regexp
	}{
		"en": {"Adams County Clerk", "How to pay at the counter", "Monday to Friday, 8 a.m. to 4:30 p.m.", regexp.MustCompile(`You owe \$[\d,]+\.\d\d to [2-9] agencies\.`)},
		"es": {"Secretaría del Condado de Adams", "Cómo pagar en ventanilla", "De lunes a viernes, de 8:00 a 16:30", regexp.MustCompile(`Debe \$[\d,]+\.\d\d a [2-9] agencias\.`)},
	}
	for _, tc := range []struct{ lang, dog, sex string }{{"en", "Rex", "1"}, {"es", "Luna", "0"}} {
		t.Run(tc.lang, func(t *testing.T) {
			want := texts[tc.lang]
			// Apply: the dog, the rabies certificate, check, send. (An
			// apply link typed or followed on this site opens the form.)
			p.Visit(t, base+"/services/adams-dog-licence/apply?lang="+tc.lang)
			p.Run(t,
				chromedp.WaitVisible(chromedp.CSS("#f-name")),
				chromedp.SendKeys(chromedp.CSS("#f-name"), tc.dog),
				chromedp.Click(chromedp.CSS(`label[for="f-sex-`+tc.sex+`"]`)),
				chromedp.Click(chromedp.CSS(`label[for="f-neutered-0"]`)),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitReady(chromedp.CSS("#f-certificate")),
				chromedp.SetUploadFiles(chromedp.CSS("#f-certificate"), []string{cert}),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/submit"] button`)),
			)
			if got := p.Text(t, "main"); !strings.Contains(got, "$10.00") {
				t.Errorf("check page lacks the fee:\n%s", got)
			}
			submitted := a.Clock.Now()
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action$="/submit"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#reference")),
			)
			ref := p.Text(t, "#reference")
			caseID := strings.SplitN(strings.SplitN(p.Location(t), "/apply/", 2)[1], "/", 2)[0]
			due := i18n.Messages().For(i18n.Lang(tc.lang), chicago).Date(submitted.Add(14 * 24 * time.Hour))

			// The home: the fee, its agency, due date and how to pay.
			home := base + "/dashboard?lang=" + tc.lang
			p.CheckEverywhere(t, "todo-home-"+tc.lang, home)
			p.Run(t, chromedp.EmulateViewport(390, 900))
			p.Visit(t, home)
			main := p.Text(t, "main")
			for _, w := range []string{"$10.00", want.agency, due, want.counter, ref} {
				if !strings.Contains(main, w) {
					t.Errorf("home lacks %q:\n%s", w, main)
				}
			}
			if total := p.Text(t, "#owed-total"); !want.total.MatchString(total) {
				t.Errorf("total owed %q", total)
			}
			item := payItem(t, p, ref)
			if item == "" {
				t.Fatalf("no fee to pay for %s on the home", ref)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS("#"+item+" button.usa-accordion__button")),
				chromedp.WaitVisible(chromedp.CSS("#"+item+"-counter")),
			)
			p.CheckA11y(t)
			p.CheckReflow(t, 390)
			counter := p.Text(t, "#"+item+"-counter")
			for _, w := range []string{"100 Main Street, Room 110", "Springfield, EX 70101", want.hours, "(555) 010-5200", ref} {
				if !strings.Contains(counter, w) {
					t.Errorf("how to pay lacks %q:\n%s", w, counter)
				}
			}
			if dir := os.Getenv("PORTICO_SCREENSHOTS"); dir != "" {
				p.Screenshot(t, filepath.Join(dir, "todo-counter-"+tc.lang+"-390.png"))
			}

			// Coming up: the fee with its amount.
			p.CheckEverywhere(t, "todo-comingup-"+tc.lang, base+"/coming-up?lang="+tc.lang)
			if got := p.Text(t, "main"); !strings.Contains(got, "$10.00") || !strings.Contains(got, due) {
				t.Errorf("Coming up lacks the fee or its due date %q:\n%s", due, got)
			}

			// The calendar: the event says the amount and where to pay.
			var cal *ics.Calendar
			if tc.lang == "en" {
				p.Visit(t, base+"/account/calendar?lang=en")
				p.Run(t,
					chromedp.Click(chromedp.CSS(`main form[action="/account/calendar"] button`)),
					chromedp.WaitVisible(chromedp.CSS("#feed-url")),
				)
				var status int
				if cal, status = fetchFeed(t, p.Value(t, "#feed-url")); status != http.StatusOK {
					t.Fatalf("feed: %d", status)
				}
			} else {
				// The feed is in the account's language (Ana's is English);
				// one event's file is in the page's.
				_, body := page(t, ana, base+"/coming-up?lang=es")
				m := regexp.MustCompile(`href="(/coming-up/[^"]+/calendar)"[^>]*>[^<]*<span class="usa-sr-only">: Pague la tarifa[^<]*` + regexp.QuoteMeta(ref)).FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("no event file for the fee on Coming up:\n%s", body)
				}
				req, _ := http.NewRequest("GET", base+m[1]+"?lang=es", nil)
				resp, err := ana.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				cal, err = ics.ParseCalendar(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			found := false
			dueDay := submitted.Add(14 * 24 * time.Hour).In(chicago).Format("20060102")
			for _, ev := range cal.Events() {
				summary := ics.FromText(ev.GetProperty(ics.ComponentPropertySummary).Value)
				if !strings.Contains(summary, ref) {
					continue
				}
				if !strings.Contains(summary, "$10.00") {
					t.Errorf("event summary %q lacks the amount", summary)
				}
				found = true
				desc := ics.FromText(ev.GetProperty(ics.ComponentPropertyDescription).Value)
				for _, w := range []string{want.agency, "100 Main Street, Room 110", want.hours, "ADAMS-CLERK-"} {
					if !strings.Contains(desc, w) {
						t.Errorf("calendar event lacks %q:\n%s", w, desc)
					}
				}
				if start := ev.GetProperty(ics.ComponentPropertyDtStart).Value; start != dueDay {
					t.Errorf("event on %s, want %s", start, dueDay)
				}
			}
			if !found {
				t.Errorf("no event for the fee of %s in the calendar", ref)
			}

			if tc.lang != "es" {
				return
			}
			// Paid at the counter: it leaves the list.
			fay := signInClient(t, base, "fay.clerk-finance@example.gov", true)
			if status, _, body := postPage(t, fay, base+"/console/cases/"+caseID+"/payment", url.Values{"amount": {"10.00"}, "ref": {"Counter receipt 0077"}}); status != http.StatusSeeOther {
				t.Fatalf("record payment: %d\n%s", status, body)
			}
			p.Visit(t, home)
			if item := payItem(t, p, ref); item != "" {
				t.Errorf("the paid fee %s is still on the home", ref)
			}
			if got := p.Text(t, "main"); !strings.Contains(got, ref) { // still in "What you applied for"
				t.Errorf("home lacks the application %s", ref)
			}
		})
	}
}

// payItem is the id of the to-do item that asks for the fee of case ref,
// or "".
func payItem(t *testing.T, p *browsertest.Page, ref string) string {
	t.Helper()
	id, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](`(() => {
		const li = [...document.querySelectorAll('#todo > li[data-kind="pay"]')].find(l => l.textContent.includes(`+strconv.Quote(ref)+`));
		return li ? li.id : "";
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestBrowserDashboardPages: Ana has more applications than one page of
// her home holds (the demo's, and copies of her oldest made long ago). In
// Chromium, in English and Spanish at every width, the home ends with
// "Older applications"; following it shows the oldest, with a link back
// to the newest and none further. Both pages pass axe and reflow.
func TestBrowserDashboardPages(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	const anaEmail = "ana.citizen@example.com"
	ana, err := a.Identity.AccountByEmail(t.Context(), anaEmail)
	if err != nil {
		t.Fatal(err)
	}
	var src string
	if err := a.DB.Read().QueryRow(`SELECT id FROM applications WHERE account_id = $1 AND status = 'submitted' ORDER BY updated_at LIMIT 1`, ana.ID).Scan(&src); err != nil {
		t.Fatalf("the demo gives Ana no submitted application: %v", err)
	}
	at := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := range application.DashboardLimit + 5 {
		if _, err := a.DB.Write().Exec(`INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, page, reference, created_at, updated_at, submitted_at)
			SELECT $2, service_id, service_version, agency_id, account_id, status, answers, page, $3, created_at, $4, submitted_at FROM applications WHERE id = $1`,
			src, fmt.Sprintf("old-%03d", i), fmt.Sprintf("OLD-%03d", i), at.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	p := b.Page(t)
	signInBrowser(t, p, base, anaEmail, "en", false, totpSteps{})
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			home := base + "/dashboard?lang=" + lang
			p.CheckEverywhere(t, "dashboard-newest-"+lang, home)
			p.Visit(t, home)
			if strings.Contains(p.Text(t, "main"), "OLD-000") {
				t.Error("the first page lists the oldest application")
			}
			want := map[string][2]string{"en": {"Older applications", "Your most recent applications"}, "es": {"Solicitudes anteriores", "Sus solicitudes más recientes"}}[lang]
			if got := p.Text(t, "#older"); got != want[0] {
				t.Errorf("older link %q, want %q", got, want[0])
			}
			p.Run(t, chromedp.Click(chromedp.CSS("#older")), chromedp.WaitVisible(chromedp.CSS("#newer")))
			// Without the fragment: loading the same URL with it again is a
			// navigation within the page, not a new answer.
			older, _, _ := strings.Cut(p.Location(t), "#")
			p.CheckEverywhere(t, "dashboard-older-"+lang, older)
			main := p.Text(t, "main")
			if !strings.Contains(main, "OLD-000") {
				t.Error("the older page lacks the oldest application")
			}
			if got := p.Text(t, "#newer"); got != want[1] {
				t.Errorf("newer link %q, want %q", got, want[1])
			}
			further, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`document.querySelector("#older") !== null`))
			if err != nil {
				t.Fatal(err)
			}
			if further {
				t.Error("the last page links further")
			}
		})
	}
}
