package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserReportPothole: a person reports a pothole without an account,
// in English and Spanish: the list of problems, the form (a mistake shows
// the error summary and keeps what was typed), a photo, the confirmation
// with the follow link and the survey link, and reports nearby. Every page
// is checked at 1280, 390 and 320 px (axe-core, reflow, machine text).
func TestBrowserReportPothole(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	photo := filepath.Join(t.TempDir(), "pothole.png")
	if err := os.WriteFile(photo, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lang, title, sent, size, nearby string }{
		{"en", "Report a problem", "Report sent", "Larger than a car tire", "Problems reported nearby"},
		{"es", "Reportar un problema", "Reporte enviado", "Más grande que una llanta", "Problemas reportados cerca"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			p := b.Page(t)
			p.CheckEverywhere(t, "report-"+c.lang, base+"/report?lang="+c.lang)
			if h := p.Text(t, "h1"); h != c.title {
				t.Errorf("title %q", h)
			}
			p.CheckEverywhere(t, "report-pothole-"+c.lang, base+"/report/pothole?lang="+c.lang)
			// A mistake: no location and no size.
			p.Run(t, chromedp.SendKeys(chromedp.CSS(`#description`), "Deep hole by the curb"),
				chromedp.Click(chromedp.CSS(`form.usa-form button[type="submit"]`)))
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`#error-summary`)))
			p.CheckHere(t, "report-pothole-errors-"+c.lang)
			if v := p.Value(t, "#description"); v != "Deep hole by the curb" {
				t.Errorf("what was typed was lost: %q", v)
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS(`#address`), "100 Main Street"),
				chromedp.SendKeys(chromedp.CSS(`#zipcode`), "70102"),
				chromedp.Click(chromedp.CSS(`label[for="attr-SIZE-large"]`)),
				chromedp.SendKeys(chromedp.CSS(`#email`), "rosa@example.com"),
				chromedp.SetUploadFiles(chromedp.CSS(`#photos`), []string{photo}),
				chromedp.Click(chromedp.CSS(`form.usa-form button[type="submit"]`)))
			waitLocation(t, p, "/report/follow/", true)
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`.usa-alert--success`)))
			p.CheckHere(t, "report-sent-"+c.lang)
			main := p.Text(t, "main")
			if !strings.Contains(main, "100 Main Street") {
				t.Errorf("confirmation lacks the address:\n%s", main)
			}
			if !strings.Contains(main, c.sent) {
				t.Errorf("confirmation lacks %q:\n%s", c.sent, main)
			}
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`a[href="/satisfaction?after=reported&service=pothole"]`)))
			p.CheckEverywhere(t, "report-nearby-"+c.lang, base+"/report/nearby?zipcode=70102&lang="+c.lang)
			if !strings.Contains(p.Text(t, "main"), "100 Main Street") || strings.Contains(p.Text(t, "main"), "rosa") {
				t.Errorf("nearby:\n%s", p.Text(t, "main"))
			}
		})
	}
}
