package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/browsertest"
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
// was typed; then the payment succeeds and the fees are recorded paid.
// Every page is checked with axe-core at 1280, 390 and 320 px.
func TestBrowserPay(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	p := b.Page(t)
	signInBrowser(t, p, base, "ana.citizen@example.com", "en", false, map[string]bool{})
	shots := os.Getenv("PORTICO_SCREENSHOTS")

	texts := map[string]struct{ agencies, declined, success, mistake, auth []string }{
		"en": {agencies: []string{"Adams County Clerk", "Adams County Treasurer"}, declined: []string{"Your card was declined", "Nothing was charged"},
			success: []string{"Payment received", "$1,245.50"}, mistake: []string{"Enter the name on the card."}},
		"es": {agencies: []string{"Departamento de Pesca y Vida Silvestre", "Departamento de Vehículos Motorizados"}, declined: []string{"Su tarjeta fue rechazada", "No se cobró nada"},
			success: []string{"Pago recibido", "$70.00"}, mistake: []string{"Escriba el nombre que figura en la tarjeta."}, auth: []string{"Su banco quiere comprobar que es usted"}},
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
		})
	}
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
