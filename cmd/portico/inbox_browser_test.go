package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/platform"
)

// TestBrowserInbox: a citizen applies for a fishing licence in the demo,
// in English (Ana) and Spanish (Beto). The page after sending says a
// confirmation was sent; the inbox shows it unread (with, perhaps, the
// reminder of its fee),
// from the agency, with its local date; opening it marks it read and
// shows the reference, what happens next and the fee; the development
// mailbox got the email. Every page is checked at 1280, 390 and 320 px
// (axe-core, reflow, machine text).
func TestBrowserInbox(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	for _, c := range []struct {
		lang, email       string
		unread            *regexp.Regexp
		sent, sender, fee string
		subject           string // the start of the confirmation's subject
	}{
		{"en", "ana.citizen@example.com", regexp.MustCompile(`\b[12] unread messages?\b`),
			"We sent you a confirmation", "From Department of Fish & Wildlife", "The fee is $25.00.", "We received your application"},
		{"es", "beto.ciudadano@example.com", regexp.MustCompile(`\b[12] mensajes? sin leer\b`),
			"Le enviamos una confirmación", "De Departamento de Pesca y Vida Silvestre", "La tarifa es $25.00.", "Recibimos su solicitud"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			acct, err := a.Identity.AccountByEmail(ctx, c.email)
			if err != nil {
				t.Fatal(err)
			}
			// Start from an inbox with nothing unread, so the confirmation is
			// the one new message: the demo's reminders (which land in the
			// inbox too) are sent first and read.
			settleReminders(t, a)
			me := platform.Actor{Kind: platform.ActorCitizen, ID: acct.ID}
			old, err := a.Notify.Inbox(ctx, me, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range old {
				if err := a.Notify.MarkRead(ctx, me, m.ID); err != nil {
					t.Fatal(err)
				}
			}
			p := b.Page(t)
			signInBrowser(t, p, base, c.email, c.lang, false, nil)
			waitLeaves(t, p, "/sign-in")

			// Apply: the start page (if it is still shown), the one form
			// page, check your answers, send.
			p.Visit(t, base+"/services/fishing-licence/apply?lang="+c.lang)
			if !strings.Contains(p.Location(t), "/pages/") {
				p.Run(t, chromedp.Click(chromedp.CSS(`form[action="/services/fishing-licence/apply"] button`)))
			}
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`label[for="f-residency-0"]`)))
			p.Run(t,
				chromedp.Click(chromedp.CSS(`label[for="f-residency-0"]`)),
				chromedp.Click(chromedp.CSS(`button[value="continue"]`)),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/submit"] button`)),
			)
			p.Run(t,
				chromedp.Click(chromedp.CSS(`form[action$="/submit"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#confirmation-sent")),
			)
			done := p.Location(t)
			ref := p.Text(t, "#reference")
			appID := strings.SplitN(strings.SplitN(done, "/apply/", 2)[1], "/", 2)[0]
			if got := p.Text(t, "#confirmation-sent"); !strings.Contains(got, c.sent) || c.lang == "en" && !strings.Contains(got, c.email) {
				t.Errorf("the page after sending says %q", got)
			}
			p.CheckEverywhere(t, "inbox-done-"+c.lang, done)

			// The inbox: the confirmation, unread. (The fee's reminder may
			// already be there too: the fishing license's fee is due in
			// two days, so its reminder goes at once, by the scheduler.)
			inbox := base + "/inbox?lang=" + c.lang
			p.CheckEverywhere(t, "inbox-unread-"+c.lang, inbox)
			main := p.Text(t, "main")
			for _, want := range []string{ref, c.sender} {
				if !strings.Contains(main, want) {
					t.Errorf("inbox lacks %q:\n%s", want, main)
				}
			}
			if count := p.Text(t, "#unread-count"); !c.unread.MatchString(count) {
				t.Errorf("unread count %q", count)
			}
			// Open it (the confirmation, not the fee's reminder, which
			// names the same reference): it is read, and says what happens
			// next.
			clicked, err := chromedp.Run(p.Context(), chromedp.Evaluate[bool](`(() => {
				const li = [...document.querySelectorAll("#main-content li")].find(l => l.textContent.includes(`+strconv.Quote(c.subject)+`));
				const b = li && li.querySelector("form button[type=submit]");
				if (b) b.click();
				return !!b;
			})()`))
			if err != nil || !clicked {
				t.Fatalf("no unread confirmation to open (%v):\n%s", err, main)
			}
			p.Run(t, chromedp.WaitVisible(chromedp.CSS(`#main-content .text-pre-wrap`)))
			// (Without the #fragment: the same address with one would not
			// load the page again.)
			opened, _, _ := strings.Cut(p.Location(t), "#")
			p.CheckEverywhere(t, "inbox-opened-"+c.lang, opened)
			main = p.Text(t, "main")
			for _, want := range []string{ref, c.fee, "/applications/" + appID} {
				if !strings.Contains(main, want) {
					t.Errorf("opened message lacks %q:\n%s", want, main)
				}
			}
			ns, err := a.Notify.List(ctx, notify.Filter{Reference: application.ConfirmationReference(appID)})
			if err != nil || len(ns) != 2 {
				t.Fatalf("confirmations %d %v", len(ns), err)
			}
			for _, n := range ns {
				if n.Channel == notify.ChannelInApp && n.ReadAt.IsZero() {
					t.Error("opening the message did not mark it read")
				}
			}

			// The development mailbox got the email.
			mailbox := base + "/dev/mailbox?lang=" + c.lang
			deadline := time.Now().Add(30 * time.Second)
			for {
				p.Visit(t, mailbox)
				if strings.Contains(p.Text(t, "main"), ref) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the mailbox has no email about %s:\n%s", ref, p.Text(t, "main"))
				}
				time.Sleep(200 * time.Millisecond)
			}
			p.CheckEverywhere(t, "inbox-mailbox-"+c.lang, mailbox)
			// The preferences page says the inbox always keeps a copy.
			p.CheckEverywhere(t, "inbox-prefs-"+c.lang, base+"/account/notifications?lang="+c.lang)
			if got := p.Text(t, "#channels-hint"); got == "" {
				t.Error("the preferences page does not say every message is kept in the inbox")
			}
		})
	}
}

// settleReminders sweeps the demo's due reminders and waits until every
// reminder job has run, so no reminder arrives in an inbox mid-test.
func settleReminders(t *testing.T, a *app.App) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Reminders.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left int
		if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind IN ('reminder_sweep', 'reminder_send')
			AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reminder jobs still queued", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
