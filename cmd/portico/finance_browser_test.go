package main

import (
	"context"
	"testing"

	"github.com/portico-gov/portico/internal/browsertest"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
)

// TestBrowserFinanceConsole checks the finance console's pages with
// headless Chromium and axe-core in English and Spanish at 1280 and 390
// px (the list, a paid payment with its refund form, the reports), and
// that the header, with its Payments link, stays on one line at 1280 px
// for finance staff and for a platform administrator (the longest
// navigation).
func TestBrowserFinanceConsole(t *testing.T) {
	b := browsertest.New(t)
	base, a := startDemoApp(t, t.TempDir())
	listed, err := a.Payments.List(context.Background(), platform.Actor{Kind: platform.ActorStaff, ID: "browser", PlatformAdmin: true},
		payment.Filter{Agency: "adams-clerk", Reference: "DEMO-PAY-0001"})
	if err != nil || len(listed.Payments) != 1 {
		t.Fatalf("the demo's paid clerk payment: %+v %v", listed, err)
	}
	paid := listed.Payments[0].ID
	used := totpSteps{}
	t.Run("finance", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "fay.clerk-finance@example.gov", "en", true, used)
		for _, lang := range []string{"en", "es"} {
			checkHeaderOneLine(t, p, base+"/console/payments?lang="+lang, "finance staff "+lang)
			p.CheckEverywhere(t, "finance-payments-"+lang, base+"/console/payments?lang="+lang, 1280, 390)
			p.CheckEverywhere(t, "finance-payment-"+lang, base+"/console/payments/"+paid+"?lang="+lang, 1280, 390)
			p.CheckEverywhere(t, "finance-reports-"+lang, base+"/console/payments/reports?lang="+lang, 1280, 390)
		}
	})
	t.Run("platform-admin", func(t *testing.T) {
		p := b.Page(t)
		signInBrowser(t, p, base, "pat.admin@example.gov", "en", true, used)
		for _, lang := range []string{"en", "es"} {
			checkHeaderOneLine(t, p, base+"/console/payments?agency=adams-clerk&lang="+lang, "platform administrator "+lang)
		}
	})
}
