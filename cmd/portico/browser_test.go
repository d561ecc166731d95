package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/notify"
)

// TestBrowserJourneys drives the real demo in headless Chromium and checks
// every page with axe-core (WCAG 2.2 A/AA), in English and Spanish. It skips
// where Chromium or axe-core are missing, unless PORTICO_TEST_BROWSER=1.
func TestBrowserJourneys(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())

	// One email through the demo's real path (notification block, River,
	// go-mail, SMTP, development mailbox) for the mailbox journeys below.
	mail := sendEmail(t, a, notify.Email{
		To: "ana@example.com", Subject: "Confirme su correo electrónico", Lang: "es",
		Text: "Hola:\n\nPara confirmar su correo, abra este enlace:\n" + base + "/government\n\nSi no fue usted, ignore este mensaje.\n",
		HTML: "<p>Hola:</p><p><a href=\"" + base + "/government\">Confirmar</a></p>",
	})
	if n := waitNotification(t, a, mail); n.Status != notify.StatusDelivered {
		t.Fatalf("demo email ended %s: %s", n.Status, n.LastError)
	}

	for _, lang := range []string{"en", "es"} {
		t.Run("pages/"+lang, func(t *testing.T) {
			p := b.Page(t)
			for _, path := range []string{"/", "/government", "/government/lookup?zip=70101", "/government/lookup?zip=70290", "/government/lookup?zip=12345",
				"/services", "/services?category=animals&agency=adams-clerk", "/services/adams-dog-licence", "/services/springfield-business-licence", "/services/adams-voter-registration"} {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				p.Visit(t, base+path+sep+"lang="+lang)
				if s := p.Status(); s != 200 {
					t.Errorf("%s: status %d", path, s)
				}
				if errs := p.ConsoleErrors(); len(errs) > 0 {
					t.Errorf("%s: console errors (CSP or script): %v", path, errs)
				}
			}
			p.Visit(t, base+"/no/such/page?lang="+lang)
			if s := p.Status(); s != 404 {
				t.Errorf("404 page status = %d", s)
			}
		})

		// A visitor finds who serves their ZIP code: first with a typo,
		// which must show an accessible error and keep what they typed,
		// then correctly.
		t.Run("find-government/"+lang, func(t *testing.T) {
			p := b.Page(t)
			p.Visit(t, base+"/?lang="+lang)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#zip"), "7O1O1"),
				chromedp.Click(chromedp.CSS(`form[action="/government/lookup"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			p.CheckA11y(t)
			if s := p.Status(); s != 400 {
				t.Errorf("invalid ZIP status = %d, want 400", s)
			}
			if kept := p.Value(t, "#zip"); kept != "7O1O1" {
				t.Errorf("typed value not kept: %q", kept)
			}
			p.Run(t,
				chromedp.Clear(chromedp.CSS("#zip")),
				chromedp.SendKeys(chromedp.CSS("#zip"), "70101"),
				chromedp.Click(chromedp.CSS(`form[action="/government/lookup"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(".usa-card-group")),
			)
			p.CheckA11y(t)
			want := map[string]string{"en": "City of Springfield", "es": "Ciudad de Springfield"}[lang]
			if got := p.Text(t, "main"); !strings.Contains(got, want) {
				t.Errorf("lookup page lacks %q:\n%s", want, got)
			}
		})
	}

	// A visitor searches the catalog (first with nothing found, then in
	// their own words), narrows by topic, opens a start page; a signed-in
	// citizen sees the services for them, with the reasons.
	for _, lang := range []string{"en", "es"} {
		t.Run("catalog/"+lang, func(t *testing.T) {
			words := map[string][2]string{"en": {"zeppelin", "dog licences"}, "es": {"zepelín", "licencia perro"}}[lang]
			p := b.Page(t)
			p.Visit(t, base+"/services?lang="+lang)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#q"), words[0]),
				chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(".usa-alert--info")),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.Clear(chromedp.CSS("#q")),
				chromedp.SendKeys(chromedp.CSS("#q"), words[1]),
				chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(".usa-collection")),
			)
			p.CheckA11y(t)
			if got := p.Text(t, "#results"); !strings.Contains(got, ": 2") {
				t.Errorf("results heading %q", got)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`a[href="/services/adams-dog-licence"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action="/services/adams-dog-licence/apply"] button`)),
			)
			p.CheckA11y(t)
			want := map[string]string{"en": "Get a dog license", "es": "Obtener una licencia para perro"}[lang]
			if got := p.Text(t, "h1"); got != want {
				t.Errorf("start page h1 = %q, want %q", got, want)
			}
			// A query too long for the search box: an error, not a crash.
			p.Visit(t, base+"/services?q="+strings.Repeat("x", 600))
			if s := p.Status(); s != 400 {
				t.Errorf("long query status = %d", s)
			}
			// Services for you: Ana lives in Springfield (Adams County).
			// (Tabs share cookies: the second language is already signed in.)
			p.Visit(t, base+"/services/for-you")
			if strings.Contains(p.Location(t), "/sign-in") {
				p.Run(t,
					chromedp.SendKeys(chromedp.CSS("#email"), "ana.citizen@example.com"),
					chromedp.SendKeys(chromedp.CSS("#password"), demo.CitizenPassword),
					chromedp.Click(chromedp.CSS("main form button[type=submit]")),
					chromedp.WaitVisible(chromedp.CSS(".usa-collection")),
				)
				p.CheckA11y(t)
			}
			because := map[string]string{"en": "You live in Adams County.", "es": "Usted vive en Condado de Adams."}[lang]
			if got := p.Text(t, "main"); !strings.Contains(got, because) {
				t.Errorf("services for you lack %q:\n%s", because, got)
			}
			// Signed in, the home page links to them.
			p.Visit(t, base+"/")
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`main a[href="/services/for-you"]`)))
		})
	}

	// A developer reads the email the demo sent in the development mailbox
	// and follows its confirmation link. (The demo's reminders are in the
	// mailbox too, so pick this one by its subject.)
	msgs, err := a.Mailbox.Messages(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var mailboxID string
	for _, m := range msgs {
		if m.Subject == "Confirme su correo electrónico" {
			mailboxID = m.ID
		}
	}
	if mailboxID == "" {
		t.Fatal("the demo email is not in the mailbox")
	}
	for _, lang := range []string{"en", "es"} {
		t.Run("dev-mailbox/"+lang, func(t *testing.T) {
			p := b.Page(t)
			p.Visit(t, base+"/dev/mailbox?lang="+lang)
			if s := p.Status(); s != 200 {
				t.Fatalf("mailbox status %d", s)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`table.usa-table a.usa-link[href="/dev/mailbox/`+mailboxID+`"]`)),
				chromedp.WaitVisible(chromedp.CSS("#message-text")),
			)
			p.CheckA11y(t)
			if errs := p.ConsoleErrors(); len(errs) > 0 {
				t.Errorf("message page: console errors (CSP or script): %v", errs)
			}
			if got := p.Text(t, "h1"); got != "Confirme su correo electrónico" {
				t.Errorf("message h1 = %q", got)
			}
			p.Run(t,
				chromedp.Click(chromedp.CSS(`#message-text a[href="`+base+`/government"]`)),
				chromedp.WaitVisible(chromedp.CSS(".usa-card-group")),
			)
			want := map[string]string{"en": "Your government", "es": "Su gobierno"}[lang]
			if got := p.Text(t, "h1"); got != want {
				t.Errorf("after following the link, h1 = %q, want %q", got, want)
			}
		})
	}

	// A citizen chooses how agencies reach them, then reads a message in
	// their inbox; a developer sees the text message in the mailbox.
	t.Run("notifications", func(t *testing.T) {
		ctx := context.Background()
		ana, err := a.Identity.AccountByEmail(ctx, "ana.citizen@example.com")
		if err != nil {
			t.Fatal(err)
		}
		// The demo's reminders land in the inbox too: let them arrive
		// first, so the message below is the newest.
		settleReminders(t, a)
		tpl, err := a.Notify.CreateTemplate(ctx, notify.TemplateInput{AgencyID: "dmv", Type: notify.TemplateSMS, Name: "Renewal",
			Body: "Your plate ((plate)) is due for renewal: " + base + "/government"})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			for _, ch := range []notify.Channel{notify.ChannelInApp, notify.ChannelSMS} {
				if _, err := a.Notify.Send(ctx, tx, notify.Message{TemplateID: tpl.ID, Channel: ch, AccountID: ana.ID, To: "+15555550123", Personalisation: notify.Personalisation{"plate": "ABC123"}}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		p := b.Page(t)
		p.Visit(t, base+"/sign-in")
		p.Run(t,
			chromedp.SendKeys(chromedp.CSS("#email"), "ana.citizen@example.com"),
			chromedp.SendKeys(chromedp.CSS("#password"), demo.CitizenPassword),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/inbox"]`)),
		)
		waitLeaves(t, p, "/sign-in")
		for _, lang := range []string{"en", "es"} {
			p.Visit(t, base+"/account/notifications?lang="+lang)
			p.CheckA11y(t)
			// Text messages without a number are refused with an accessible
			// error that keeps the choices.
			p.Run(t,
				chromedp.Click(chromedp.CSS(`label[for="email"]`)),
				chromedp.Click(chromedp.CSS(`label[for="sms"]`)),
				chromedp.Clear(chromedp.CSS("#phone")),
				chromedp.Click(chromedp.CSS("form.usa-form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#error-summary")),
			)
			p.CheckA11y(t)
			p.Run(t,
				chromedp.SendKeys(chromedp.CSS("#phone"), "555 555 0123"),
				chromedp.Click(chromedp.CSS("form.usa-form button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS(".usa-alert--success")),
			)
			p.CheckA11y(t)
			prefs, _ := a.Notify.Preferences(ctx, ana.ID)
			if !prefs.SMS || prefs.Email || !prefs.InApp || prefs.Phone != "+15555550123" {
				t.Errorf("%s: preferences saved as %+v", lang, prefs)
			}
			// Back to the defaults for the next language.
			if _, err := a.Notify.SetPreferences(ctx, notify.Preferences{AccountID: ana.ID, Email: true, InApp: true}); err != nil {
				t.Fatal(err)
			}

			p.Visit(t, base+"/inbox?lang="+lang)
			p.CheckA11y(t)
			if lang == "en" {
				p.Run(t,
					chromedp.Click(chromedp.CSS(`#main-content form button[type=submit]`)),
					chromedp.WaitVisible(chromedp.CSS(`#main-content .text-pre-wrap`)),
				)
				p.CheckA11y(t)
			}
			if got := p.Text(t, "#main-content"); !strings.Contains(got, "ABC123") {
				t.Errorf("%s: inbox does not show the message:\n%s", lang, got)
			}
			p.Visit(t, base+"/dev/mailbox?lang="+lang)
			p.CheckA11y(t)
			if got := p.Text(t, "#main-content"); !strings.Contains(got, "Your plate ABC123 is due") {
				t.Errorf("%s: mailbox lacks the text message:\n%s", lang, got)
			}
		}
		p.Run(t, chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/sign-in"]`)))
	})

	t.Run("language-switch", func(t *testing.T) {
		p := b.Page(t)
		p.Visit(t, base+"/?lang=en")
		p.Run(t,
			chromedp.Click(chromedp.CSS(`a[hreflang="es"]`)),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="es"]`)),
		)
		p.CheckA11y(t)
		// The choice sticks: the next page is Spanish without ?lang=.
		p.Visit(t, base+"/government")
		if got := p.Text(t, "h1"); got != "Su gobierno" {
			t.Errorf("h1 after switching = %q, want Spanish", got)
		}
	})

	t.Run("phone", func(t *testing.T) {
		p := b.Page(t)
		p.Run(t, chromedp.EmulateViewport(375, 812))
		p.Visit(t, base+"/government/lookup?zip=70201")
		dir := os.Getenv("PORTICO_SCREENSHOTS") // set to keep the pictures
		if dir == "" {
			dir = t.TempDir()
		}
		p.Screenshot(t, filepath.Join(dir, "lookup-phone.png"))
		p.Run(t, chromedp.EmulateViewport(1280, 900))
		p.Visit(t, base+"/?lang=es")
		p.Screenshot(t, filepath.Join(dir, "home-desktop-es.png"))
	})
}

// waitLeaves waits until the tab's document is no longer at a path
// containing path: after a form post whose result is recognised by
// something the old page may show too (the tabs share cookies, so an
// earlier journey's session can put "signed in" links on the sign-in page
// itself), before navigating again.
func waitLeaves(t *testing.T, p *browsertest.Page, path string) { waitLocation(t, p, path, false) }

// waitLocation waits (up to 10 s) until the tab's address contains part
// (or, with want false, no longer does).
func waitLocation(t *testing.T, p *browsertest.Page, part string, want bool) {
	t.Helper()
	for i := 0; i < 100 && strings.Contains(p.Location(t), part) != want; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}
