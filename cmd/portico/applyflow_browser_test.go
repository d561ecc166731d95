package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/demo"
)

// TestBrowserApplyFlow walks the apply flow in headless Chromium, in
// English (Ana, who lives in Adams County) and Spanish (Beto, Baker
// County): from the public start page, "Start now" leads to sign-in and
// then straight into the form's first page; the other county's dog
// license says why it is not for them and links to their own county's;
// the pothole report reads as a report from start to end (no
// declaration); a file input is named by its label; "Change" links are
// at least 24 by 24 px on a phone and say what they change. Every page
// is checked with CheckEverywhere (axe, reflow at 1280/390/320 px,
// machine text).
func TestBrowserApplyFlow(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	// The pothole report manifest, an example the demo leaves out
	// (demo.NotInDemo): the one service of kind report.
	if _, err := demo.SeedExamples(context.Background(), a.Catalog); err != nil {
		t.Fatal(err)
	}
	type person struct {
		email, own, other, otherReason string
		words                          map[string]string
	}
	people := map[string]person{
		"en": {email: "ana.citizen@example.com", own: "adams-dog-licence", other: "baker-dog-licence",
			otherReason: "This license is for people who live in Baker County.",
			words: map[string]string{"start": "Start now", "report": "Report a problem", "check": "Check your report before sending it",
				"send": "Send report", "sent": "Report sent", "why": "You cannot use this service", "change": "Change", "photo": "Photo (optional)",
				"location": "Street and nearest house number or crossing", "reports": "Reports you sent", "folder": "from folder"}},
		"es": {email: "beto.ciudadano@example.com", own: "baker-dog-licence", other: "adams-dog-licence",
			otherReason: "Esta licencia es para personas que viven en el Condado de Adams.",
			words: map[string]string{"start": "Comenzar ahora", "report": "Reportar un problema", "check": "Revise su reporte antes de enviarlo",
				"send": "Enviar reporte", "sent": "Reporte enviado", "why": "No puede usar este servicio", "change": "Cambiar", "photo": "Foto (opcional)",
				"location": "Calle y número o cruce más cercano", "reports": "Reportes que envió", "folder": "de una carpeta"}},
	}
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			who := people[lang]
			w := who.words
			b := browsertest.New(t) // a browser of their own: its own cookies
			p := b.Page(t)
			// The public start page of their own county's dog license.
			own := base + "/services/" + who.own + "?lang=" + lang
			p.CheckEverywhere(t, "applyflow-start-"+lang, own)
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Visit(t, own)
			if got := p.Text(t, `form[action="/services/`+who.own+`/apply"] button`); got != w["start"] {
				t.Errorf("start button %q, want %q", got, w["start"])
			}
			// Start now → sign in → straight into the form's first page.
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/`+who.own+`/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#email")),
				chromedp.SendKeys(chromedp.CSS("#email"), who.email),
				chromedp.SendKeys(chromedp.CSS("#password"), demo.CitizenPassword),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#f-name")),
			)
			if loc := p.Location(t); !regexp.MustCompile(`/apply/[0-9a-f-]{36}/pages/dog$`).MatchString(loc) {
				t.Fatalf("after signing in from Start now: %s, want the form's first page", loc)
			}
			p.CheckEverywhere(t, "applyflow-form-"+lang, p.Location(t)+"?lang="+lang)

			// The other county's dog license: why not, and where instead.
			other := base + "/services/" + who.other + "?lang=" + lang
			p.CheckEverywhere(t, "applyflow-noteligible-"+lang, other)
			p.Run(t, chromedp.EmulateViewport(390, 900))
			p.Visit(t, other)
			box := p.Text(t, "#not-eligible")
			if !strings.Contains(box, w["why"]) || !strings.Contains(box, who.otherReason) {
				t.Errorf("not-eligible box:\n%s", box)
			}
			if n := count(t, p, `form[action="/services/`+who.other+`/apply"]`); n != 0 {
				t.Error("the start page offers to start a service the person cannot use")
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main a[href="/services/`+who.own+`"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action="/services/`+who.own+`/apply"] button`)),
			)

			// The pothole report, as a report, end to end.
			pothole := base + "/services/springfield-pothole?lang=" + lang
			p.Visit(t, pothole)
			if got := p.Text(t, `form[action="/services/springfield-pothole/apply"] button`); got != w["report"] {
				t.Errorf("report button %q, want %q", got, w["report"])
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/services/springfield-pothole/apply"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#f-location")),
			)
			where := p.Location(t)
			p.CheckEverywhere(t, "applyflow-report-page-"+lang, where)
			p.Run(t, chromedp.EmulateViewport(390, 900))
			p.Visit(t, where)
			// USWDS's script has made the input a drop zone and labelled it
			// in English; the accessible name is still the visible label.
			if n := count(t, p, ".usa-file-input__target #f-photo"); n != 1 {
				t.Fatal("the USWDS file input was not enhanced")
			}
			if name := axName(t, p, "#f-photo"); !strings.HasPrefix(name, w["photo"]) {
				t.Errorf("file input's accessible name %q, want it to start with %q", name, w["photo"])
			}
			// ... and its visible words are in the page's language.
			if got := p.Text(t, ".usa-file-input__instructions"); !strings.Contains(got, w["folder"]) {
				t.Errorf("file input instructions %q, want %q", got, w["folder"])
			}
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#f-location"), "Elm Street & 3rd Avenue"),
				chromedp.Click(chromedp.CSS(`label[for="f-size-2"]`)),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/submit"] button`)),
			)
			check := p.Location(t)
			p.CheckEverywhere(t, "applyflow-report-check-"+lang, check)
			p.Run(t, chromedp.EmulateViewport(390, 900))
			p.Visit(t, check)
			if got := p.Text(t, "h1"); got != w["check"] {
				t.Errorf("check page h1 %q, want %q", got, w["check"])
			}
			if got := p.Text(t, `form[action$="/submit"] button`); got != w["send"] {
				t.Errorf("send button %q, want %q", got, w["send"])
			}
			if n := count(t, p, "#declaration"); n != 0 {
				t.Error("a report asks for a declaration")
			}
			// Change links: 24 px by 24 px or more on a phone, named for
			// what they change.
			sizes, err := chromedp.Run(p.Context(), chromedp.Evaluate[[][]float64](`[...document.querySelectorAll("a.portico-change-link")].map(a => { const r = a.getBoundingClientRect(); return [r.width, r.height]; })`))
			if err != nil {
				t.Fatal(err)
			}
			if len(sizes) == 0 {
				t.Fatal("no Change links")
			}
			for _, s := range sizes {
				if s[0] < 24 || s[1] < 24 {
					t.Errorf("a Change link is %.0f×%.0f px at 390 px wide", s[0], s[1])
				}
			}
			if name := axName(t, p, `a.portico-change-link[href*="#f-location"]`); name != w["change"]+" "+w["location"] {
				t.Errorf("Change link's accessible name %q", name)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action$="/submit"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#reference")),
			)
			done := p.Location(t)
			p.CheckEverywhere(t, "applyflow-report-done-"+lang, done)
			if got := p.Text(t, "h1"); got != w["sent"] {
				t.Errorf("done page h1 %q, want %q", got, w["sent"])
			}
			if strings.Contains(strings.ToLower(p.Text(t, "main")), map[string]string{"en": "application", "es": "solicitud"}[lang]) {
				t.Errorf("the report's confirmation speaks of an application:\n%s", p.Text(t, "main"))
			}
			p.CheckEverywhere(t, "applyflow-dashboard-"+lang, base+"/dashboard?lang="+lang)
			if got := p.Text(t, "#sent-report"); got != w["reports"] {
				t.Errorf("dashboard heading %q, want %q", got, w["reports"])
			}
		})
	}
}

// count is how many elements match sel on p's page.
func count(t *testing.T, p *browsertest.Page, sel string) int {
	t.Helper()
	n, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// axName is the accessible name Chromium computed for the element sel,
// from the accessibility tree (what a screen reader announces).
func axName(t *testing.T, p *browsertest.Page, sel string) string {
	t.Helper()
	name, err := chromedp.Run(p.Context(), func(ctx context.Context, tg *chromedp.Target) (string, error) {
		nodes, err := chromedp.Nodes(chromedp.CSS(sel))(ctx, tg)
		if err != nil {
			return "", err
		}
		if len(nodes) == 0 {
			return "", fmt.Errorf("no %s", sel)
		}
		id := nodes[0].BackendNodeID
		fetch := false
		res, err := cdp.Call(ctx, tg, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{BackendNodeID: id, FetchRelatives: &fetch})
		if err != nil {
			return "", err
		}
		for _, n := range res.Nodes {
			if n.BackendDOMNodeID == id && n.Name != nil {
				var s string
				if err := json.Unmarshal([]byte(n.Name.Value), &s); err != nil {
					return "", err
				}
				return s, nil
			}
		}
		return "", fmt.Errorf("%s has no accessible name", sel)
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(name), " ")
}
