package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserSatisfaction answers the survey in a real browser, in English
// and Spanish at desktop and phone widths, with axe-core on every page:
// the survey, its error summary (focused, what was typed kept), the
// thank-you page, and the clerk's page of comments.
func TestBrowserSatisfaction(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	words := map[string]struct{ summary, thanks, comment string }{
		"en": {"There is a problem", "Thank you for your answers", "The form was clear."},
		"es": {"Hay un problema", "Gracias por sus respuestas", "El formulario era claro."},
	}
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			w := words[lang]
			p := b.Page(t)
			survey := base + "/satisfaction?after=submitted&service=adams-dog-licence&lang=" + lang
			p.CheckEverywhere(t, "satisfaction-"+lang, survey, 1280, 390)

			// Sent without the required answer: the summary, focused,
			// what was typed kept.
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#comment"), w.comment),
				chromedp.Click(chromedp.CSS(`label[for="ease"]`)),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			if s := p.Text(t, "#error-summary"); !strings.Contains(s, w.summary) {
				t.Errorf("summary %q", s)
			}
			if v := p.Value(t, "#comment"); v != w.comment {
				t.Errorf("what was typed is lost: %q", v)
			}
			p.CheckHere(t, "satisfaction-error-"+lang, 1280, 390)

			// Answer and send: thanks.
			p.Run(t,
				chromedp.Click(chromedp.CSS(`label[for="score-4"]`)),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(".usa-alert--success")),
			)
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(p.Location(t), "/satisfaction/thanks") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if s := p.Text(t, "main"); !strings.Contains(s, w.thanks) {
				t.Errorf("thanks page: %q", s)
			}
			p.CheckHere(t, "satisfaction-thanks-"+lang, 1280, 390)
		})
	}
	// The clerk reads the comments.
	p := b.Page(t)
	signInBrowser(t, p, base, "eli.clerk@example.gov", "en", true, totpSteps{})
	for _, lang := range []string{"en", "es"} {
		p.CheckEverywhere(t, "satisfaction-comments-"+lang, base+"/console/satisfaction/adams-dog-licence?lang="+lang, 1280, 390)
		if s := p.Text(t, "main"); !strings.Contains(s, words["en"].comment) || !strings.Contains(s, words["es"].comment) {
			t.Errorf("comments page lacks the comments: %q", s)
		}
	}
}
