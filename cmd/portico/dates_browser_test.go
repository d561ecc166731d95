package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserDates applies for a dog license in headless Chromium in
// English (Ana, Adams County) and Spanish (Beto, Baker County, whose
// service reuses Adams's form), typing dates the way people do: in
// English the boxes ask month, day, year and Ana types 03 27 2021; in
// Spanish they ask día, mes, año and Beto types 27 03 2021. Dates that
// cannot be read (the day typed in the month box, a two-digit year, a
// February 30) show the error summary, linked to the right box, with what
// was typed kept. Check your answers shows "March 27, 2021" / "27 de marzo
// de 2021", "Yes"/"Sí", the fee in dollars, and the questions in the order
// the form asked them; so do the citizen's case page and the staff case
// page. Every page is checked with CheckEverywhere (or CheckHere for the
// answer to a post) at 1280, 390 and 320 px.
func TestBrowserDates(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	cert := filepath.Join(t.TempDir(), "rabies.pdf")
	if err := os.WriteFile(cert, []byte("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type journey struct {
		lang, email, service string
		first                string // the id of the first date box in the language's order
		typeBorn             [3][2]string
		bad                  []badDate
		born, expires, yes   string
		fee                  string
		order                []string // the dog page's questions, as asked
		dob, dobYear         string   // the demo person's date of birth, as shown
	}
	journeys := []journey{
		{lang: "en", email: "ana.citizen@example.com", service: "adams-dog-licence", first: "#f-born-month",
			typeBorn: [3][2]string{{"#f-born-month", "03"}, {"#f-born-day", "27"}, {"#f-born-year", "2021"}},
			bad: []badDate{
				{month: "27", day: "03", year: "2021", link: "#f-born-month", message: "Month must be between 1 and 12 in “Date of birth”."},
				{month: "03", day: "27", year: "21", link: "#f-born-year", message: "Year must include 4 numbers in “Date of birth”."},
				{month: "2", day: "30", year: "2021", link: "#f-born-month", message: "“Date of birth” must be a real date."},
			},
			born: "March 27, 2021", expires: "March 1, 2029", yes: "Yes", fee: "$10.00",
			order: []string{"Dog's name", "Sex", "Spayed or neutered?", "Date of birth"}, dob: "April 12, 1988", dobYear: "1988"},
		{lang: "es", email: "beto.ciudadano@example.com", service: "baker-dog-licence", first: "#f-born-day",
			typeBorn: [3][2]string{{"#f-born-day", "27"}, {"#f-born-month", "03"}, {"#f-born-year", "2021"}},
			bad: []badDate{
				{month: "27", day: "03", year: "2021", link: "#f-born-month", message: "El mes debe estar entre 1 y 12 en «Fecha de nacimiento»."},
				{month: "2", day: "30", year: "2021", link: "#f-born-day", message: "«Fecha de nacimiento» debe ser una fecha real."},
			},
			born: "27 de marzo de 2021", expires: "1 de marzo de 2029", yes: "Sí", fee: "$15.00", // Baker's flat fee
			order: []string{"Nombre del perro", "Sexo", "¿Esterilizado?", "Fecha de nacimiento"}, dob: "30 de septiembre de 1975", dobYear: "1975"},
	}
	usedTOTP := totpSteps{}
	var adamsCase string
	for _, j := range journeys {
		t.Run(j.lang, func(t *testing.T) {
			p := b.Page(t)
			signInBrowser(t, p, base, j.email, j.lang, false, usedTOTP)
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Visit(t, base+"/services/"+j.service+"?lang="+j.lang) // the start page, whose button starts the form
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/`+j.service+`/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#f-born-day")),
			)
			dogPage := p.Location(t)
			p.CheckEverywhere(t, "dates-dog-"+j.lang, dogPage)
			// The boxes come in the language's order, with the pattern's hint.
			if first, err := firstDateBox(p); err != nil || "#"+first != j.first {
				t.Errorf("first date box = %q (%v); want %s", first, err, j.first)
			}
			hint := map[string]string{"en": "For example: January 19 2000", "es": "Por ejemplo: 19 de enero de 2000"}[j.lang]
			if got := p.Text(t, "#f-born-hint"); !strings.Contains(got, hint) {
				t.Errorf("date hint = %q; want it to contain %q", got, hint)
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#f-name"), "Rex"),
				chromedp.Click(chromedp.CSS(`label[for="f-sex-1"]`)),
				chromedp.Click(chromedp.CSS(`label[for="f-neutered-0"]`)),
			)
			if got := p.Text(t, `label[for="f-neutered-0"]`); got != j.yes {
				t.Errorf("yes/no radio labelled %q; want %q", got, j.yes)
			}
			for i, bad := range j.bad {
				p.Run(t, chromedp.EmulateViewport(1280, 900))
				typeDate(p, t, "f-born", bad.month, bad.day, bad.year)
				// The page before showed a summary too: mark it, and wait
				// for the answer to this post.
				if _, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`document.body.dataset.before = "1"; true`)); err != nil {
					t.Fatal(err)
				}
				p.Run(t, chromedp.Click(chromedp.CSS(`button[value="continue"]`)))
				for range 100 {
					fresh, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`!document.body.dataset.before && document.readyState === "complete" && !!document.querySelector("#error-summary")`))
					if err == nil && fresh {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				got := p.Text(t, "#error-summary")
				if !strings.Contains(got, bad.message) {
					t.Errorf("error summary = %q; want %q", got, bad.message)
				}
				if got := p.Text(t, `#error-summary a[href="`+bad.link+`"]`); got == "" {
					t.Errorf("the summary does not link to %s", bad.link)
				}
				for id, want := range map[string]string{"#f-born-month": bad.month, "#f-born-day": bad.day, "#f-born-year": bad.year, "#f-name": "Rex"} {
					if got := p.Value(t, id); got != want {
						t.Errorf("%s: typed %q not kept, got %q", bad.message, want, got)
					}
				}
				p.CheckHere(t, "dates-dog-error-"+j.lang+"-"+string(rune('a'+i)))
			}
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			typeDate(p, t, "f-born", "", "", "")
			for _, box := range j.typeBorn {
				p.Run(t, chromedp.SendKeys(chromedp.CSS(box[0]), box[1]))
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitReady(chromedp.CSS("#f-certificate")),
			)
			p.CheckEverywhere(t, "dates-rabies-"+j.lang, p.Location(t))
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Run(t, chromedp.SetUploadFiles(chromedp.CSS("#f-certificate"), []string{cert}))
			typeDate(p, t, "f-expires", "3", "1", "2029")
			p.Run(t,
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/submit"] button`)),
			)
			check := p.Location(t)
			p.CheckEverywhere(t, "dates-check-"+j.lang, check)
			main := p.Text(t, "main")
			for _, want := range []string{j.born, j.expires, j.yes, j.fee, "rabies.pdf"} {
				if !strings.Contains(main, want) {
					t.Errorf("check your answers lacks %q:\n%s", want, main)
				}
			}
			inOrder(t, "check your answers", main, j.order)
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Visit(t, check)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action$="/submit"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#reference")),
			)
			id := strings.SplitN(strings.SplitN(p.Location(t), "/apply/", 2)[1], "/", 2)[0]
			if j.lang == "en" {
				adamsCase = id
			}
			// The citizen's case page shows the answers the same way.
			p.CheckEverywhere(t, "dates-case-"+j.lang, base+"/applications/"+id+"?lang="+j.lang)
			main = p.Text(t, "main")
			for _, want := range []string{j.born, j.expires, j.yes, j.fee} {
				if !strings.Contains(main, want) {
					t.Errorf("the case page lacks %q:\n%s", want, main)
				}
			}
			inOrder(t, "the case page", main, j.order)
			// The profile asks the date of birth the same way, prefilled,
			// and the account page writes it as a date.
			p.CheckEverywhere(t, "dates-profile-"+j.lang, base+"/account/profile?lang="+j.lang)
			if first, err := firstDateBox(p); err != nil || "#"+strings.Replace(first, "date_of_birth", "f-born", 1) != j.first {
				t.Errorf("profile: first date box = %q (%v)", first, err)
			}
			if got := p.Value(t, "#date_of_birth-year"); got != j.dobYear {
				t.Errorf("profile: year of birth = %q; want %s", got, j.dobYear)
			}
			p.CheckEverywhere(t, "dates-account-"+j.lang, base+"/account?lang="+j.lang)
			if main := p.Text(t, "main"); !strings.Contains(main, j.dob) {
				t.Errorf("the account page lacks the date of birth %q:\n%s", j.dob, main)
			}
		})
	}
	// The staff case page, in both languages, for Ana's Adams County case.
	if adamsCase == "" {
		return
	}
	t.Run("staff", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "eli.clerk@example.gov", "en", true, usedTOTP)
		for _, j := range journeys {
			p.CheckEverywhere(t, "dates-staff-case-"+j.lang, base+"/console/cases/"+adamsCase+"?lang="+j.lang)
			main := p.Text(t, "main")
			born := map[string]string{"en": "March 27, 2021", "es": "27 de marzo de 2021"}[j.lang]
			for _, want := range []string{born, j.yes, "$10.00"} { // Adams's fee for a neutered dog
				if !strings.Contains(main, want) {
					t.Errorf("the staff case page (%s) lacks %q:\n%s", j.lang, want, main)
				}
			}
			inOrder(t, "the staff case page", main, j.order)
		}
	})
}

type badDate struct {
	month, day, year string
	link, message    string
}

// typeDate replaces what the three boxes of a date hold.
func typeDate(p *browsertest.Page, t *testing.T, id, month, day, year string) {
	t.Helper()
	for part, v := range map[string]string{"month": month, "day": day, "year": year} {
		sel := chromedp.CSS("#" + id + "-" + part)
		p.Run(t, chromedp.Clear(sel))
		if v != "" {
			p.Run(t, chromedp.SendKeys(sel, v))
		}
	}
}

// firstDateBox is the id of the first box of the page's first memorable date.
func firstDateBox(p *browsertest.Page) (string, error) {
	return chromedp.Run(p.Context(), chromedp.Evaluate[string](`document.querySelector(".usa-memorable-date input").id`))
}

// inOrder fails when the labels do not appear in text in the given order.
func inOrder(t *testing.T, where, text string, labels []string) {
	t.Helper()
	// The answers start at the dog page's title (the staff page shows who
	// applied, with their own date of birth, before them).
	for _, title := range []string{"About your dog", "Sobre su perro"} {
		if i := strings.Index(text, title); i >= 0 {
			text = text[i:]
		}
	}
	at := -1
	for _, l := range labels {
		i := strings.Index(text, l)
		if i < 0 || i < at {
			t.Errorf("%s: %q not in the form's order %v:\n%s", where, l, labels, text)
			return
		}
		at = i
	}
}
