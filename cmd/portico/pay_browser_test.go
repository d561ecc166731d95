package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/notify"
	"github.com/portico-gov/portico/internal/payment"
)

// TestBrowserPay: Ana pays, in headless Chromium, what she owes two
// agencies in one checkout with the sandbox: in English the demo's dog
// license fee (Adams County Clerk) and property-tax instalment (Adams
// County Treasurer); in Spanish a fishing license fee (Fish & Wildlife)
// and a vehicle registration renewal fee (DMV), through the test
// authentication step. First a declined card: an accessible error,
// nothing charged (the books balance, no fee is marked paid), and the
// items can be chosen again; then a card form with a mistake keeps what
// was typed; then the payment succeeds and the fees are recorded paid;
// she opens the receipt (a print button) and its email arrives through
// SMTP, and the declined checkout sent none. She gets there from the
// header's Pay link and the to-do list, whose "Pay online" of one item
// ticks that item alone. Every page is checked with axe-core at 1280,
// 390 (and, on the pay pages, 320) px.
func TestBrowserPay(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	p := b.Page(t)
	signInBrowser(t, p, base, "ana.citizen@example.com", "en", false, totpSteps{})
	shots := os.Getenv("PORTICO_SCREENSHOTS")

	// The receipt email is in the language Ana reads messages in
	// (English), whichever language she paid in.
	texts := map[string]struct{ agencies, declined, success, mistake, auth, receipt, mailAgencies []string }{
		"en": {agencies: []string{"Adams County Clerk", "Adams County Treasurer"}, declined: []string{"Your card was declined", "Nothing was charged"},
			success: []string{"Payment received", "$1,245.50"}, mistake: []string{"Enter the name on the card."},
			receipt:      []string{"Payment receipt", "Visa ending in 4242", "Total paid: $1,245.50", "Receipt for your payment of $1,245.50"},
			mailAgencies: []string{"Adams County Clerk", "Adams County Treasurer"}},
		"es": {agencies: []string{"Departamento de Pesca y Vida Silvestre", "Departamento de Vehículos Motorizados"}, declined: []string{"Su tarjeta fue rechazada", "No se cobró nada"},
			success: []string{"Pago recibido", "$70.00"}, mistake: []string{"Escriba el nombre que figura en la tarjeta."}, auth: []string{"Su banco quiere comprobar que es usted"},
			receipt:      []string{"Recibo de pago", "Visa terminada en 3155", "Total pagado: $70.00", "Receipt for your payment of $70.00"},
			mailAgencies: []string{"Department of Fish & Wildlife", "Department of Motor Vehicles"}},
	}
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			want := texts[lang]
			var cases []string
			if lang == "es" {
				cases = append(cases,
					openCase(t, a, "app-pay-fishing", "ana.citizen@example.com", "fishing-licence", map[string]map[string]any{"licence": {"residency": "resident"}}).ID,
					openCase(t, a, "app-pay-vehicle", "ana.citizen@example.com", "vehicle-registration-renewal", vehicleAnswers).ID)
			}
			// The ways in: the header's Pay link, and the to-do list's
			// "Pay online" of one item, which ticks that item alone.
			p.CheckEverywhere(t, "pay-dashboard-"+lang, base+"/dashboard?lang="+lang, 1280, 390)
			if href, ok := attr(t, p, "#nav-pay", "href"); !ok || href != "/pay" {
				t.Errorf("the header's Pay link: %q", href)
			}
			if got := p.Text(t, "#owed-heading"); got == "" {
				t.Error("the to-do list does not sum up what is owed")
			}
			p.Run(t, chromedp.EmulateViewport(1280, 900), chromedp.Click(chromedp.CSS(`#todo a[href^="/pay?item="]`)),
				chromedp.WaitVisible(chromedp.CSS("#pay-selected")))
			ticked, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](`[...document.querySelectorAll('input[name=item]')].map(b => b.checked ? 1 : 0).join("")`))
			if err != nil || strings.Count(ticked, "1") != 1 || len(ticked) != 2 {
				t.Errorf("the to-do item's Pay online ticks %q, want one item of two", ticked)
			}

			pay := base + "/pay?lang=" + lang
			p.CheckEverywhere(t, "pay-"+lang, pay)
			p.Run(t, chromedp.EmulateViewport(1280, 900))
			p.Visit(t, pay)
			main := p.Text(t, "main")
			for _, w := range want.agencies {
				if !strings.Contains(main, w) {
					t.Errorf("the Pay page lacks %q:\n%s", w, main)
				}
			}
			// Two things to pay (what was paid in English is not payable).
			boxes, err := chromedp.Run(p.Context(), chromedp.Evaluate[int](`document.querySelectorAll('input[name=item]').length`))
			if err != nil || boxes != 2 {
				t.Errorf("%d things to pay, want 2:\n%s", boxes, main)
			}

			// Declined.
			toSandbox(t, p)
			p.CheckHere(t, "pay-sandbox-"+lang)
			fillCard(t, p, "4000 0000 0000 0002", "Ana Citizen")
			p.Run(t, chromedp.Click(chromedp.CSS("#card-submit")), chromedp.WaitVisible(chromedp.CSS("#result")))
			p.CheckHere(t, "pay-declined-"+lang)
			declined := checkoutOf(t, p.Location(t))
			result := p.Text(t, "#result")
			for _, w := range want.declined {
				if !strings.Contains(result, w) {
					t.Errorf("declined page lacks %q: %s", w, result)
				}
			}
			if role, ok := attr(t, p, "#result", "role"); !ok || role != "alert" {
				t.Errorf("the decline is not announced: role %q", role)
			}
			if rep, err := payment.Check(ctx, a.DB); err != nil || !rep.OK() {
				t.Fatalf("ledger after the decline: %+v %v", rep, err)
			}
			for _, id := range cases {
				for _, f := range feesOf(t, a, id) {
					if f.PaidAt != nil {
						t.Fatalf("a declined card paid %s", id)
					}
				}
			}

			// Again: a mistake, kept; then the card goes through.
			p.Run(t, chromedp.Click(chromedp.CSS("#try-again")), chromedp.WaitVisible(chromedp.CSS("#pay-selected")))
			toSandbox(t, p)
			number := "4242 4242 4242 4242"
			if lang == "es" {
				number = "4000 0025 0000 3155"
			}
			fillCard(t, p, number, "")
			p.Run(t, chromedp.Click(chromedp.CSS("#card-submit")), chromedp.WaitVisible(chromedp.CSS("#error-summary")))
			p.CheckHere(t, "pay-sandbox-error-"+lang)
			if got := p.Text(t, "#error-summary"); !strings.Contains(got, want.mistake[0]) {
				t.Errorf("error summary: %s", got)
			}
			if got := p.Value(t, "#card-number"); got != number {
				t.Errorf("the card number typed was not kept: %q", got)
			}
			p.Run(t, chromedp.SendKeys(chromedp.CSS("#cvc"), "123"), chromedp.SendKeys(chromedp.CSS("#cardholder-name"), "Ana Citizen"),
				chromedp.Click(chromedp.CSS("#card-submit")))
			if lang == "es" {
				p.Run(t, chromedp.WaitVisible(chromedp.CSS("#authenticate")))
				p.CheckHere(t, "pay-sandbox-auth-"+lang)
				if got := p.Text(t, "main"); !strings.Contains(got, want.auth[0]) {
					t.Errorf("authentication step: %s", got)
				}
				p.Run(t, chromedp.Click(chromedp.CSS("#auth-approve")))
			}
			p.Run(t, chromedp.WaitVisible(chromedp.CSS("#receipt-link")))
			p.CheckHere(t, "pay-success-"+lang)
			if shots != "" {
				p.Run(t, chromedp.EmulateViewport(390, 900))
				p.Screenshot(t, filepath.Join(shots, "pay-success-"+lang+"-390-full.png"))
			}
			main = p.Text(t, "main")
			for _, w := range append(want.success, want.agencies...) {
				if !strings.Contains(main, w) {
					t.Errorf("success page lacks %q:\n%s", w, main)
				}
			}
			waitPaid(t, a, cases)
			if rep, err := payment.Check(ctx, a.DB); err != nil || !rep.OK() {
				t.Fatalf("ledger: %+v %v", rep, err)
			}

			// The receipt: its page (with a print button, shown by the
			// script), then its email through SMTP to the mailbox.
			paid := checkoutOf(t, p.Location(t))
			p.Run(t, chromedp.EmulateViewport(1280, 900), chromedp.Click(chromedp.CSS("#receipt-link")), chromedp.WaitVisible(chromedp.CSS("#receipt-facts")))
			p.CheckHere(t, "pay-receipt-"+lang, 1280, 390)
			main = p.Text(t, "main")
			for _, w := range append(want.receipt[:3], want.agencies...) {
				if !strings.Contains(main, w) {
					t.Errorf("the receipt lacks %q:\n%s", w, main)
				}
			}
			if shown, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](`document.getElementById("receipt-print").hidden ? "hidden" : getComputedStyle(document.getElementById("receipt-print")).display`)); err != nil || shown == "hidden" || shown == "none" {
				t.Errorf("the print button is not shown: %q %v", shown, err)
			}
			// Printed, the receipt is the receipt alone: no header,
			// navigation, footer or buttons.
			p.Run(t, emulateMedia("print"))
			chrome, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](`["header.usa-header", "footer", "#receipt-actions", ".usa-banner"].filter(s => { const e = document.querySelector(s); return e && getComputedStyle(e).display !== "none"; }).join(" ")`))
			if err != nil || chrome != "" {
				t.Errorf("printed, the receipt shows %q (%v)", chrome, err)
			}
			if shots != "" {
				p.Screenshot(t, filepath.Join(shots, "pay-receipt-print-"+lang+".png"))
			}
			p.Run(t, emulateMedia(""))
			mail := receiptMail(t, a, paid)
			if !strings.HasPrefix(mail.Subject, want.receipt[3]) || !strings.Contains(mail.To, "ana.citizen@example.com") || !strings.Contains(mail.Text, "/pay/receipts/"+paid) {
				t.Errorf("receipt email: %q to %q\n%s", mail.Subject, mail.To, mail.Text)
			}
			for _, w := range want.mailAgencies {
				if !strings.Contains(mail.Text, w) {
					t.Errorf("the receipt email lacks %q", w)
				}
			}
			// Nothing was charged for the declined card, so it has no receipt.
			for _, m := range receiptMails(t, a, declined) {
				t.Errorf("the declined checkout sent a receipt: %q", m.Subject)
			}
		})
	}
}

// emulateMedia makes the page's CSS media type media ("print"; "" for
// the screen again).
func emulateMedia(media string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media})
		return err
	})
}

// checkoutOf is the checkout id in a /pay/checkouts/ID/return address.
func checkoutOf(t *testing.T, location string) string {
	t.Helper()
	_, rest, ok := strings.Cut(location, "/pay/checkouts/")
	id, _, _ := strings.Cut(rest, "/")
	if !ok || id == "" {
		t.Fatalf("not a checkout's return page: %s", location)
	}
	return id
}

// receiptMail waits for checkout's receipt to reach the demo's mailbox
// (through notify, River and SMTP) and returns it with its body.
func receiptMail(t *testing.T, a *app.App, checkout string) notify.MailboxMessage {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ms := receiptMails(t, a, checkout); len(ms) > 0 {
			return ms[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receipt email for %s reached the mailbox", checkout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receiptMails are the receipt emails in the demo's mailbox whose text
// names checkout (its receipt number and link; the subject names the
// amount and date, not the machine reference).
func receiptMails(t *testing.T, a *app.App, checkout string) []notify.MailboxMessage {
	t.Helper()
	ctx := context.Background()
	msgs, err := a.Mailbox.Messages(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.MailboxMessage
	for _, m := range msgs {
		if !strings.HasPrefix(m.Subject, "Receipt for your payment") && !strings.HasPrefix(m.Subject, "Recibo de su pago") {
			continue
		}
		full, err := a.Mailbox.Message(ctx, m.ID) // the list has no bodies
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(full.Text, checkout) {
			out = append(out, full)
		}
	}
	return out
}

// toSandbox presses "Pay selected" on the Pay page and waits for the
// test payment page.
func toSandbox(t *testing.T, p *browsertest.Page) {
	t.Helper()
	p.Run(t, chromedp.Click(chromedp.CSS("#pay-selected")), chromedp.WaitVisible(chromedp.CSS("#card-number")))
	if !strings.Contains(p.Location(t), "/pay/sandbox/sbx_") {
		t.Fatalf("not on the test payment page: %s", p.Location(t))
	}
}

// fillCard types a test card (without the security code when name is
// empty: a mistake to correct).
func fillCard(t *testing.T, p *browsertest.Page, number, name string) {
	t.Helper()
	p.Run(t,
		chromedp.SendKeys(chromedp.CSS("#card-number"), number),
		chromedp.SendKeys(chromedp.CSS("#expiry-month"), "12"),
		chromedp.SendKeys(chromedp.CSS("#expiry-year"), "30"),
	)
	if name != "" {
		p.Run(t, chromedp.SendKeys(chromedp.CSS("#cvc"), "123"), chromedp.SendKeys(chromedp.CSS("#cardholder-name"), name))
	}
}

func attr(t *testing.T, p *browsertest.Page, sel, name string) (string, bool) {
	t.Helper()
	v, err := chromedp.Run(p.Context(), chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(sel)+`).getAttribute(`+strconv.Quote(name)+`) || ""`))
	return v, err == nil && v != ""
}

// waitPaid waits for the consumers to record the cases' fees paid online.
func waitPaid(t *testing.T, a *app.App, cases []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range cases {
		for {
			fees := feesOf(t, a, id)
			if len(fees) > 0 && fees[len(fees)-1].PaidAt != nil && fees[len(fees)-1].PaidBy == "online" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the fee of %s was not recorded paid: %+v", id, fees)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
