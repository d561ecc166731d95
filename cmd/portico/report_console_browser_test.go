package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/report"
)

// TestBrowserReportConsole: Springfield Public Works' caseworker (Rosa)
// works the demo's reports in the console, in English and in Spanish:
// the list of open reports (Ana's pothole, the streetlight), a report with
// its reporter and answers, a status change with a note, which the report
// then has. Every page is checked at 1280 and 390 px (axe-core, reflow,
// machine text).
func TestBrowserReportConsole(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	reqs, err := a.Reports.Search(ctx, report.Query{ServiceCodes: []string{"pothole"}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("the demo's pothole report: %v %v", reqs, err)
	}
	pothole := strconv.FormatInt(reqs[0].Number, 10)
	used := totpSteps{}
	for _, c := range []struct {
		lang, state, note, saved, reporter string
		problems                           []string
	}{
		{"en", "in_progress", "A crew will fill it on Thursday.", "Status saved.", "The reporter", []string{"Pothole", "Streetlight out"}},
		{"es", "fixed", "Se rellenó el bache el jueves.", "Estado guardado.", "Quien lo reportó", []string{"Bache", "Farola apagada"}},
	} {
		t.Run(c.lang, func(t *testing.T) {
			p := b.Page(t)
			signInBrowser(t, p, base, "rosa.publicworks@example.gov", c.lang, true, used)
			p.CheckEverywhere(t, "report-console-"+c.lang, base+"/console/reports?lang="+c.lang, 1280, 390)
			list := p.Text(t, "main")
			for _, want := range append([]string{"Oak Avenue at 3rd Street", "100 Main Street"}, c.problems...) {
				if !strings.Contains(list, want) {
					t.Errorf("the console's list lacks %q:\n%s", want, list)
				}
			}
			if strings.Contains(list, "Lakeside") {
				t.Errorf("Springfield's list shows Lakeside's report:\n%s", list)
			}
			p.CheckEverywhere(t, "report-console-report-"+c.lang, base+"/console/reports/"+pothole+"?lang="+c.lang, 1280, 390)
			if got := p.Text(t, "main"); !strings.Contains(got, "ana.citizen@example.com") || !strings.Contains(got, "Deep enough to damage a tire") {
				t.Errorf("the report page lacks the reporter or the description:\n%s", got)
			}
			p.Run(t, chromedp.EmulateViewport(390, 900),
				chromedp.SetValue(chromedp.CSS("#state"), c.state),
				chromedp.SendKeys(chromedp.CSS("#note"), c.note),
				chromedp.Click(chromedp.CSS(`form[action$="/status"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`main .usa-alert--success`)))
			p.CheckHere(t, "report-console-saved-"+c.lang, 390, 1280)
			if got := p.Text(t, "main"); !strings.Contains(got, c.saved) || !strings.Contains(got, c.note) || !strings.Contains(got, c.reporter) {
				t.Errorf("after saving, the page lacks %q, the note or who reported it (%q):\n%s", c.saved, c.reporter, got)
			}
		})
	}
	followed, err := a.Reports.Get(ctx, reqs[0].Number)
	if err != nil || followed.State != "fixed" {
		t.Fatalf("the report after the console: %+v %v", followed, err)
	}
}
