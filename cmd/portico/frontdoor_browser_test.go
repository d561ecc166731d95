package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
)

// headerLayout is where the header's pieces sit: the top of the logo and
// of every item of the primary navigation, and the header's height.
type headerLayout struct {
	LogoTop  float64   `json:"logoTop"`
	ItemTops []float64 `json:"itemTops"`
	Height   float64   `json:"height"`
	Labels   []string  `json:"labels"`
	// Broken are the labels whose text takes more than one line.
	Broken []string `json:"broken"`
	// TextTops are the tops of the labels' text, which share a baseline.
	TextTops []float64 `json:"textTops"`
}

const measureHeader = `(() => {
  const r = e => e.getBoundingClientRect();
  const items = [...document.querySelectorAll('.usa-nav__primary > .usa-nav__primary-item')];
  return {
    logoTop: Math.round(r(document.querySelector('.usa-logo')).top),
    itemTops: items.map(i => Math.round(r(i).top)),
    height: Math.round(r(document.querySelector('header.usa-header')).height),
    labels: items.map(i => i.innerText.trim()),
    textTops: items.map(i => {
      // The top of the label's first words (a count tag beside them may
      // make the label's box taller).
      const span = i.querySelector('.usa-nav-link span') || i;
      const text = [...span.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
      if (!text) return Math.round(r(span).top);
      const range = document.createRange();
      range.selectNodeContents(text);
      return Math.round(range.getBoundingClientRect().top);
    }),
    broken: items.filter(i => { const s = i.querySelector('.usa-nav-link span') || i.querySelector('.usa-nav-link'); return s && s.getClientRects().length > 1; }).map(i => i.innerText.trim()),
  };
})()`

// checkHeaderOneLine fails unless, at 1280 px, every navigation item sits
// on one line, on the same line as the logo.
func checkHeaderOneLine(t *testing.T, p *browsertest.Page, url, who string) {
	t.Helper()
	p.Run(t, chromedp.EmulateViewport(1280, 900))
	p.Visit(t, url)
	h, err := chromedp.Run(p.Context(), chromedp.Evaluate[headerLayout](measureHeader))
	if err != nil {
		t.Fatalf("%s: measure header: %v", who, err)
	}
	if len(h.ItemTops) == 0 {
		t.Fatalf("%s: no navigation items", who)
	}
	if len(h.Broken) > 0 {
		t.Errorf("%s: navigation labels break onto two lines at 1280 px: %q", who, h.Broken)
	}
	if lo, hi := slices.Min(h.TextTops), slices.Max(h.TextTops); hi-lo > 3 {
		t.Errorf("%s: navigation labels are not on one baseline: text tops %v (%q)", who, h.TextTops, h.Labels)
	}
	lo, hi := slices.Min(h.ItemTops), slices.Max(h.ItemTops)
	if hi-lo > 4 {
		t.Errorf("%s: the navigation wraps at 1280 px: item tops %v (%q)", who, h.ItemTops, h.Labels)
	}
	if lo-h.LogoTop > 40 {
		t.Errorf("%s: the navigation is below the logo at 1280 px: logo top %v, items %v, header height %v (%q)", who, h.LogoTop, h.ItemTops, h.Height, h.Labels)
	}
}

// TestBrowserFrontDoor walks the front door: a visitor searches from the
// home page's box, opens a life event, follows an agency link to the
// agency's page (address, phone, hours), and finds the same services
// with "licence" and "license"; a signed-in citizen finds a service from
// the header; the header fits on one line at 1280 px for a visitor, a
// citizen and a staff member in English and Spanish. Every page is
// checked at 1280, 390 and 320 px (axe, reflow, machine text).
func TestBrowserFrontDoor(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())

	for _, lang := range []string{"en", "es"} {
		t.Run("visitor-"+lang, func(t *testing.T) {
			p := b.Page(t)
			p.CheckEverywhere(t, "frontdoor-home-"+lang, base+"/?lang="+lang, 1280, 390)
			checkHeaderOneLine(t, p, base+"/?lang="+lang, "visitor "+lang)

			// Search from the home page's box.
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Visit(t, base+"/?lang="+lang)
			word := map[string]string{"en": "dog", "es": "perro"}[lang]
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("main form[role=search] #q"), word),
				chromedp.Click(chromedp.CSS("main form[role=search] button[type=submit]")),
			)
			waitLocation(t, p, "q="+word, true)
			p.Run(t, chromedp.WaitVisible(chromedp.CSS("#results")))
			if loc := p.Location(t); !strings.Contains(loc, "/services?q="+word) {
				t.Errorf("the home page's search went to %s", loc)
			}
			if got := p.Text(t, "main .usa-collection"); !strings.Contains(strings.ToLower(got), map[string]string{"en": "dog license", "es": "licencia para perro"}[lang]) {
				t.Errorf("searching %q from the home page found %q", word, got)
			}

			// A life event, then an agency named on it.
			p.Visit(t, base+"/?lang="+lang)
			p.Run(t, chromedp.Click(chromedp.CSS(`main a[href="/life-events/moving"]`)))
			waitLocation(t, p, "/life-events/moving", true)
			p.Run(t, chromedp.WaitVisible(chromedp.CSS("main h2")))
			if loc := p.Location(t); !strings.Contains(loc, "/life-events/moving") {
				t.Fatalf("the life event link went to %s", loc)
			}
			text := p.Text(t, "main")
			for _, want := range map[string][]string{"en": {"State services", "County services"}, "es": {"Servicios del estado", "Servicios del condado"}}[lang] {
				if !strings.Contains(text, want) {
					t.Errorf("the moving page has no %q:\n%s", want, text)
				}
			}
			p.CheckEverywhere(t, "frontdoor-moving-"+lang, base+"/life-events/moving?lang="+lang, 1280, 390)
			p.CheckEverywhere(t, "frontdoor-moving-zip-"+lang, base+"/life-events/moving?zip=70201&lang="+lang, 1280, 390)
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Visit(t, base+"/life-events/moving?lang="+lang)
			p.Run(t, chromedp.Click(chromedp.CSS(`main a[href="/agencies/dmv"]`)))
			waitLocation(t, p, "/agencies/dmv", true)
			p.Run(t, chromedp.WaitVisible(chromedp.CSS("#contact-heading")))
			agency := p.Text(t, "main")
			for _, want := range []string{"1200 Capitol Avenue", "(555) 010-2000", map[string]string{"en": "Monday to Friday, 8 a.m. to 5 p.m.", "es": "De lunes a viernes, de 8:00 a 17:00"}[lang]} {
				if !strings.Contains(agency, want) {
					t.Errorf("the DMV's page has no %q:\n%s", want, agency)
				}
			}
			tel, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](`document.querySelector('main a[href^="tel:"]').getAttribute('href')`))
			if err != nil || tel != "tel:+15550102000" {
				t.Errorf("the phone link is %q, %v", tel, err)
			}
			p.CheckEverywhere(t, "frontdoor-agency-"+lang, base+"/agencies/dmv?lang="+lang, 1280, 390)

			// Spelling: licence and license find the same services.
			results := func(q string) []string {
				p.Run(t, chromedp.EmulateViewport(1280, 900))
				p.Visit(t, base+"/services?q="+q+"&lang="+lang)
				ids, err := chromedp.Run(p.Context(), chromedp.Evaluate[[]string](`[...document.querySelectorAll('main .usa-collection__heading a')].map(a => a.getAttribute('href'))`))
				if err != nil {
					t.Fatal(err)
				}
				return ids
			}
			uk, us := results("licence"), results("license")
			if len(us) < 5 || !slices.Equal(uk, us) {
				t.Errorf("licence found %v, license found %v", uk, us)
			}
			p.CheckEverywhere(t, "frontdoor-search-licence-"+lang, base+"/services?q=licence&lang="+lang, 1280, 390)
			// A search that matches a report-a-problem form shows it above
			// the catalog's services.
			report := map[string]string{"en": "pothole", "es": "bache"}[lang]
			p.CheckEverywhere(t, "frontdoor-search-report-"+lang, base+"/services?q="+report+"&lang="+lang, 1280, 390)
			if got, want := p.Text(t, "#reports-heading"), map[string]string{"en": "Report a problem to your city or county", "es": "Reporte un problema a su ciudad o condado"}[lang]; got != want {
				t.Errorf("report forms heading %q, want %q", got, want)
			}
		})
	}

	used := totpSteps{}
	for _, who := range []struct{ name, email, lang string }{
		{"citizen-en", "ana.citizen@example.com", "en"},
		{"citizen-es", "beto.ciudadano@example.com", "es"},
	} {
		t.Run(who.name, func(t *testing.T) {
			p := b.Page(t)
			signInBrowser(t, p, base, who.email, who.lang, false, used)
			checkHeaderOneLine(t, p, base+"/dashboard?lang="+who.lang, who.name)
			p.Run(t, chromedp.Click(chromedp.CSS(`header nav a[href="/services"]`)), chromedp.WaitVisible(chromedp.CSS("main form[role=search] #q")))
			if loc := p.Location(t); !strings.HasSuffix(strings.SplitN(loc, "?", 2)[0], "/services") {
				t.Fatalf("the header's Find a service went to %s", loc)
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("main form[role=search] #q"), "fishing"),
				chromedp.Click(chromedp.CSS("main form[role=search] button[type=submit]")),
			)
			// The search page is already showing #results: wait for the
			// results of the query itself.
			waitLocation(t, p, "q=fishing", true)
			p.Run(t, chromedp.WaitVisible(chromedp.CSS("#results")))
			if got := p.Text(t, "main .usa-collection"); !strings.Contains(got, map[string]string{"en": "fishing license", "es": "licencia de pesca"}[who.lang]) || strings.Contains(got, "pothole") || strings.Contains(got, "bache") {
				t.Errorf("searching from the header's page found %q", got)
			}
			p.CheckEverywhere(t, "frontdoor-"+who.name+"-home", base+"/?lang="+who.lang, 1280, 390)
			// Signed in with a home address, a life event shows what
			// applies where the person lives.
			p.CheckEverywhere(t, "frontdoor-"+who.name+"-moving", base+"/life-events/moving?lang="+who.lang, 1280, 390)
		})
	}
	for _, lang := range []string{"en", "es"} {
		t.Run("staff-"+lang, func(t *testing.T) {
			p := b.Page(t)
			signInBrowser(t, p, base, "eli.clerk@example.gov", lang, true, used)
			checkHeaderOneLine(t, p, base+"/console?lang="+lang, fmt.Sprintf("staff %s", lang))
			p.CheckEverywhere(t, "frontdoor-staff-agency-"+lang, base+"/agencies/adams-clerk?lang="+lang, 1280, 390)
		})
	}
}
