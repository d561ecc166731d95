package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

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

// TestBrowserReportOnTheMap: a person gives the place of a pothole on the
// report form's map instead of an address — by tapping it on a phone
// (390 px, English), and with the keyboard alone on a desktop (1280 px,
// Spanish: focus the map, arrow keys) — and the report is sent with that
// point. The map is checked with axe-core while it shows the point, and
// its live region says where the point is.
func TestBrowserReportOnTheMap(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	const south, west, north, east = 39.70, -89.75, 39.86, -89.55 // Springfield's area (internal/demo)
	coords := func(t *testing.T, p *browsertest.Page) (lat, long float64) {
		t.Helper()
		var err error
		if lat, err = strconv.ParseFloat(p.Value(t, "#lat"), 64); err != nil {
			t.Fatalf("latitude field: %v", err)
		}
		if long, err = strconv.ParseFloat(p.Value(t, "#long"), 64); err != nil {
			t.Fatalf("longitude field: %v", err)
		}
		if lat < south || lat > north || long < west || long > east {
			t.Errorf("point %v, %v is outside Springfield's area", lat, long)
		}
		return lat, long
	}
	for _, c := range []struct {
		lang, set, sent string
		width           int64
		keyboard        bool
	}{
		{"en", "Point set at latitude", "Report sent", 390, false},
		{"es", "Punto marcado en la latitud", "Reporte enviado", 1280, true},
	} {
		t.Run(c.lang, func(t *testing.T) {
			p := b.Page(t)
			p.Run(t, chromedp.EmulateViewport(c.width, 900))
			p.Navigate(t, base+"/report/pothole?lang="+c.lang)
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`[data-map-frame] svg`)))
			var lat, long float64
			if c.keyboard {
				// Focus the map (Tab reaches it: it is in the tab order),
				// the first arrow puts the point in the middle, the next
				// moves it east, Shift+arrow a larger step north.
				p.Run(t, chromedp.Focus(chromedp.CSS(`[data-map-frame]`)),
					chromedp.KeyEvent(kb.ArrowDown))
				lat0, long0 := coords(t, p)
				p.Run(t, chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierShift)))
				lat, long = coords(t, p)
				if !(long > long0 && lat > lat0) {
					t.Errorf("arrow keys moved the point from %v,%v to %v,%v: want east and north", lat0, long0, lat, long)
				}
			} else {
				p.Run(t, chromedp.Click(chromedp.CSS(`[data-map-frame] svg`)))
				lat, long = coords(t, p)
			}
			if s := p.Text(t, "[data-map-status]"); !strings.HasPrefix(s, c.set) {
				t.Errorf("the map's live region says %q", s)
			}
			if open, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`document.querySelector('[data-coordinates]').open`)); err != nil || !open {
				t.Errorf("the coordinates are not shown (open=%v, %v)", open, err)
			}
			p.CheckHere(t, "report-map-"+c.lang, c.width)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`label[for="attr-SIZE-medium"]`)),
				chromedp.SendKeys(chromedp.CSS(`#email`), "map."+c.lang+"@example.com"),
				chromedp.Click(chromedp.CSS(`form.usa-form button[type="submit"]`)))
			waitLocation(t, p, "/report/follow/", true)
			if main := p.Text(t, "main"); !strings.Contains(main, c.sent) {
				t.Errorf("confirmation lacks %q:\n%s", c.sent, main)
			}
			// The report carries the point the person chose.
			token := strings.SplitN(strings.SplitN(p.Location(t), "/report/follow/", 2)[1], "?", 2)[0]
			f, err := a.Reports.Follow(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			got := f.Request
			if got.Lat == nil || got.Long == nil || math.Abs(*got.Lat-lat) > 1e-6 || math.Abs(*got.Long-long) > 1e-6 {
				t.Errorf("the report's point is %v, %v; the map set %v, %v", got.Lat, got.Long, lat, long)
			}
		})
	}
}
