package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/platform"
)

// fetchFeed GETs a calendar feed over HTTP and parses it with the iCal
// library, as a calendar app would.
func fetchFeed(t *testing.T, u string) (*ics.Calendar, int) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("feed Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("feed Cache-Control = %q", cc)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("feed does not parse: %v\n%s", err, body)
	}
	return cal, resp.StatusCode
}

// TestCalendarFeedOverHTTP subscribes to a demo citizen's feed over HTTP,
// parses it back, and checks that revoking it turns the address off. On the
// way it checks the whole reminder path of the demo: Beto's registration is
// due in 5 days, so its 7-day reminder is due at once; the sweep run at
// start claims it and the email arrives, in Spanish, in the development
// mailbox through notify, River and SMTP.
func TestCalendarFeedOverHTTP(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs, err := a.Mailbox.Messages(ctx, 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			// The demo's seeded cases also confirm Beto's application;
			// only reminders count here.
			if strings.Contains(m.To, "beto.ciudadano@example.com") && (strings.HasPrefix(m.Subject, "Recordatorio:") || strings.HasPrefix(m.Subject, "Vencido:")) {
				got = append(got, m.Subject)
			}
		}
		if len(got) > 0 {
			// His registration, his overdue document, his tax installment,
			// and the fee the demo's seeded renewal case asks for within a
			// week (its 7-day reminder goes at once).
			if len(got) != 4 || !strings.Contains(strings.Join(got, "|"), "Recordatorio: Renueve el registro de su vehículo (EX 7MB-904) antes del") ||
				!strings.Contains(strings.Join(got, "|"), "Recordatorio: Pague la tarifa: ") ||
				!strings.Contains(strings.Join(got, "|"), "Vencido: Envíe un comprobante de domicilio") {
				if time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				t.Fatalf("Beto's reminders: %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reminder reached the development mailbox")
		}
		time.Sleep(100 * time.Millisecond)
	}
	beto, err := a.Identity.AccountByEmail(ctx, "beto.ciudadano@example.com")
	if err != nil {
		t.Fatal(err)
	}
	token, err := a.Reminders.CreateFeed(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: beto.ID})
	if err != nil {
		t.Fatal(err)
	}
	cal, status := fetchFeed(t, base+"/calendar/"+token+".ics")
	if status != http.StatusOK {
		t.Fatalf("feed status %d", status)
	}
	events := cal.Events()
	if len(events) != 4 { // three demo obligations and the seeded case's fee
		t.Fatalf("Beto's feed has %d events, want 4", len(events))
	}
	titles := map[string]bool{}
	for _, e := range events {
		titles[ics.FromText(e.GetProperty(ics.ComponentPropertySummary).Value)] = true
		if _, err := e.GetAllDayStartAt(); err != nil {
			t.Errorf("event %s: all-day DTSTART: %v", e.Id(), err)
		}
		if len(e.Alarms()) == 0 {
			t.Errorf("event %s has no alarms", e.Id())
		}
	}
	if !titles["Pague su impuesto predial, segunda cuota: $842.75"] { // Beto reads Spanish; the installment says its amount
		t.Errorf("feed titles = %v", titles)
	}
	for _, bad := range []string{"/calendar/" + token, "/calendar/" + token + ".ics.ics", "/calendar/" + strings.ToUpper(token[:10]) + token[10:] + ".ics"} {
		if _, status := fetchFeed(t, base+bad); status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", bad, status)
		}
	}
	// "Add to calendar": one obligation's .ics, for its signed-in owner.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post(t, client, base+"/sign-in", url.Values{"email": {"beto.ciudadano@example.com"}, "password": {demo.CitizenPassword}})
	obs, err := a.Reminders.List(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: beto.ID}, false)
	if err != nil || len(obs) == 0 {
		t.Fatalf("Beto's obligations: %d, %v", len(obs), err)
	}
	req, _ := http.NewRequest("GET", base+"/coming-up/"+obs[0].ID+"/calendar?lang=en", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/calendar; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), `attachment; filename="`) {
		t.Fatalf("add to calendar: %d %v", resp.StatusCode, resp.Header)
	}
	one, err := ics.ParseCalendar(bytes.NewReader(body))
	if err != nil || len(one.Events()) != 1 || !strings.HasPrefix(one.Events()[0].Id(), obs[0].ID+"@") {
		t.Fatalf("add to calendar file: %v\n%s", err, body)
	}
	if err := a.Reminders.RevokeFeed(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: beto.ID}); err != nil {
		t.Fatal(err)
	}
	if _, status := fetchFeed(t, base+"/calendar/"+token+".ics"); status != http.StatusNotFound {
		t.Fatalf("revoked feed status %d", status)
	}
}

// TestReminderJourneys: a citizen opens Coming up from the header, sets up
// the calendar feed, subscribes to it over HTTP (parsed back with the iCal
// library) and turns it off, in English and Spanish, with axe-core
// checking every page.
func TestReminderJourneys(t *testing.T) {
	b := browsertest.New(t)
	base, _ := startDemoApp(t, t.TempDir())
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			p := b.Page(t)
			p.Visit(t, base+"/sign-in?lang="+lang)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#email"), "beto.ciudadano@example.com"),
				chromedp.SendKeys(chromedp.CSS("#password"), demo.CitizenPassword),
				chromedp.Click(chromedp.CSS("main form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/account/security"]`)),
				chromedp.Click(chromedp.CSS(`.usa-nav a[href="/coming-up"]`)),
				chromedp.WaitVisible(chromedp.CSS("main table.usa-table")),
			)
			p.CheckA11y(t)
			want := map[string]string{"en": "Pay your property tax, second installment", "es": "Pague su impuesto predial, segunda cuota"}[lang]
			if got := p.Text(t, "main"); !strings.Contains(got, want) {
				t.Errorf("Coming up lacks %q:\n%s", want, got)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main a[href="/account/calendar"]`)),
				chromedp.WaitVisible(chromedp.CSS("#feed-status")),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main form[action="/account/calendar"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#feed-url")),
			)
			p.CheckA11y(t)
			feed := p.Value(t, "#feed-url")
			if !strings.HasPrefix(feed, base+"/calendar/") || !strings.HasSuffix(feed, ".ics") {
				t.Fatalf("feed address %q", feed)
			}
			ctx, cancel := context.WithTimeout(p.Context(), 10*time.Second)
			attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#webcal-link"), "href"))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if webcal := attr.Value; webcal != "webcal://"+strings.TrimPrefix(feed, "http://") {
				t.Errorf("webcal link %q for %q", webcal, feed)
			}
			cal, status := fetchFeed(t, feed)
			if status != http.StatusOK || len(cal.Events()) != 4 {
				t.Fatalf("feed: status %d", status)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`main form[action="/account/calendar/revoke"] button`)),
				chromedp.WaitVisible(chromedp.CSS(".usa-alert--success")),
			)
			p.CheckA11y(t)
			if _, status := fetchFeed(t, feed); status != http.StatusNotFound {
				t.Errorf("revoked feed status %d", status)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/sign-in"]`)),
			)
		})
	}
}
