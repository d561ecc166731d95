package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// TestBrowserShellAndFeedback walks the shell's own parts in a real
// browser, in English and Spanish: a beta service's banner links to the
// satisfaction survey about it, which links to the
// feedback form, which says what is wrong (title "Error: …", focus on the
// summary, the typed text kept) and then thanks the person; the platform
// administrator reads the feedback at /admin/feedback; a 404 page is titled
// "Error: …"; and the page loaded the content-hashed stylesheet as brotli.
func TestBrowserShellAndFeedback(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())

	// A beta service: its start page carries the banner.
	published, err := a.Catalog.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var beta string
	for _, s := range published {
		if s.Manifest != nil && s.Manifest.Maturity == "beta" {
			beta = "/services/" + s.ID
			break
		}
	}
	if beta == "" {
		t.Fatal("the demo publishes no beta service")
	}

	eval := func(t *testing.T, p *browsertest.Page, js string) string {
		t.Helper()
		v, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](js, func(e *runtime.EvaluateParams) { yes := true; e.AwaitPromise = &yes }))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	title := func(t *testing.T, p *browsertest.Page) string { return eval(t, p, `document.title`) }
	waitFor := func(t *testing.T, p *browsertest.Page, path string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasPrefix(strings.TrimPrefix(p.Location(t), base), path) {
			if time.Now().After(deadline) {
				t.Fatalf("still at %s, want %s", p.Location(t), path)
			}
			time.Sleep(50 * time.Millisecond)
		}
		p.Run(t, chromedp.WaitReady(chromedp.CSS("body")))
	}

	words := map[string]struct{ comment, thanks, summary string }{
		"en": {"The fee was not shown until the end.", "Thank you for your feedback", "There is a problem"},
		"es": {"No se mostraba la tarifa hasta el final.", "Gracias por sus comentarios", "Hay un problema"},
	}
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			w := words[lang]
			p := b.Page(t)
			// The start page, with the banner, everywhere.
			p.CheckEverywhere(t, "shell-service-"+lang, base+beta+"?lang="+lang, 1280, 390)

			// The stylesheet the page loaded is the hashed one, and it came
			// compressed with brotli.
			href := eval(t, p, `document.querySelector('link[rel=stylesheet][href*="uswds.min"]').getAttribute('href')`)
			if !regexp.MustCompile(`^/static/uswds/css/uswds\.min\.[0-9a-f]{12}\.css$`).MatchString(href) {
				t.Errorf("stylesheet %q is not the hashed name", href)
			}
			enc := eval(t, p, `fetch(document.querySelector('link[rel=stylesheet][href*="uswds.min"]').href, {cache: 'no-store'}).then(r => r.headers.get('content-encoding') + ' ' + r.headers.get('cache-control'))`)
			if enc != "br public, max-age=31536000, immutable" {
				t.Errorf("the stylesheet came as %q", enc)
			}
			sizes := eval(t, p, `(() => { const e = performance.getEntriesByType('resource').find(e => e.name.includes('/uswds.min.') && e.name.endsWith('.css')); return e ? e.encodedBodySize + '/' + e.decodedBodySize : 'none'; })()`)
			var enc1, dec int
			if _, err := fmt.Sscanf(sizes, "%d/%d", &enc1, &dec); err != nil || enc1 == 0 || enc1*5 > dec {
				t.Errorf("stylesheet encoded/decoded bytes %s: not compressed", sizes)
			}
			if errs := p.ConsoleErrors(); len(errs) > 0 {
				t.Errorf("console errors (fonts, icons?):\n%s", strings.Join(errs, "\n"))
			}
			fonts := eval(t, p, `document.fonts.ready.then(() => String(document.fonts.check('16px "Source Sans Pro Web"')))`)
			if fonts != "true" {
				t.Errorf("the USWDS font did not load: %s", fonts)
			}

			// Follow the banner's link: the satisfaction survey about the
			// service, which knows where the person was; general feedback
			// is a link away.
			p.Run(t, chromedp.Click(chromedp.CSS(`main .usa-alert a[href^="/satisfaction?service="]`)))
			waitFor(t, p, "/satisfaction")
			if from := eval(t, p, `document.querySelector('input[name=from]').value`); from != beta {
				t.Errorf("the page you came from: %q, want %q", from, beta)
			}
			p.Run(t, chromedp.Click(chromedp.CSS(`main a[href="/feedback"]`)))
			waitFor(t, p, "/feedback")
			if from := eval(t, p, `document.querySelector('input[name=from]').value`); from != "/satisfaction" {
				t.Errorf("the page you came from: %q, want /satisfaction", from)
			}
			if got := title(t, p); strings.HasPrefix(got, "Error") {
				t.Errorf("the empty form's title says Error: %q", got)
			}
			p.CheckA11y(t)

			// Sent without the required answer: the summary, focused, the
			// title saying Error, what was typed kept.
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#doing"), "Reading the start page"),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			if got := title(t, p); !strings.HasPrefix(got, "Error: ") {
				t.Errorf("title %q does not start with \"Error: \"", got)
			}
			if focused := eval(t, p, `document.activeElement ? document.activeElement.id : ''`); focused != "error-summary" {
				t.Errorf("focus is on %q, not the error summary", focused)
			}
			if s := p.Text(t, "#error-summary"); !strings.Contains(s, w.summary) {
				t.Errorf("summary %q", s)
			}
			if v := p.Value(t, "#doing"); v != "Reading the start page" {
				t.Errorf("what was typed is lost: %q", v)
			}
			p.CheckA11y(t)
			for _, width := range []int64{1280, 390, 320} {
				p.Run(t, chromedp.EmulateViewport(width, 900))
				p.CheckReflow(t, width)
				if dir := screenshotsDir(); dir != "" {
					p.Screenshot(t, fmt.Sprintf("%s/shell-feedback-error-%s-%d.png", dir, lang, width))
				}
			}

			// Sent properly: thanked, with the way back.
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#comment"), w.comment),
				chromedp.SendKeys(chromedp.CSS("#email"), "ana.citizen@example.com"),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
			)
			waitFor(t, p, "/feedback/thanks")
			if h := p.Text(t, "h1"); h != w.thanks {
				t.Errorf("thank-you heading %q", h)
			}
			thanks := p.Location(t)
			p.CheckEverywhere(t, "shell-feedback-thanks-"+lang, thanks, 1280, 390)
			p.CheckEverywhere(t, "shell-feedback-"+lang, base+"/feedback?lang="+lang, 1280, 390)

			// A page that is not there: titled as an error, accessible.
			if status := p.Navigate(t, base+"/no/such/page?lang="+lang); status != 404 {
				t.Errorf("404 page: status %d", status)
			}
			if got := title(t, p); !strings.HasPrefix(got, "Error: ") {
				t.Errorf("404 title %q", got)
			}
			p.CheckA11y(t)
			for _, width := range []int64{1280, 390, 320} {
				p.Run(t, chromedp.EmulateViewport(width, 900))
				p.CheckReflow(t, width)
			}
		})
	}

	// The platform administrator reads both, newest first.
	t.Run("admin", func(t *testing.T) {
		used := totpSteps{}
		for _, lang := range []string{"en", "es"} {
			p := b.Page(t)
			signInBrowser(t, p, base, "pat.admin@example.gov", lang, true, used)
			p.CheckEverywhere(t, "shell-admin-feedback-"+lang, base+"/admin/feedback?lang="+lang, 1280, 390)
			body := p.Text(t, "main")
			es, en := strings.Index(body, words["es"].comment), strings.Index(body, words["en"].comment)
			if es < 0 || en < 0 || es > en {
				t.Errorf("the feedback is not listed newest first:\n%s", body)
			}
			if !strings.Contains(body, "ana.citizen@example.com") {
				t.Error("the reply address is not shown")
			}
		}
	})
}

// screenshotsDir is where PORTICO_SCREENSHOTS asks for pictures, or "".
func screenshotsDir() string { return os.Getenv("PORTICO_SCREENSHOTS") }
