package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
)

var (
	payItemRE    = regexp.MustCompile(`name="item" value="([^"]+)"`)
	checkoutPath = regexp.MustCompile(`^/pay/checkouts/([a-z2-7]{26})$`)
)

// payItems returns the checkbox values of the Pay page body.
func payItems(body string) []string {
	var out []string
	for _, m := range payItemRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// payOnce opens a checkout of items as c and follows it to the sandbox
// page; it returns the checkout id and the sandbox page's path.
func payOnce(t *testing.T, c *http.Client, base string, items []string) (string, string) {
	t.Helper()
	status, loc, body := postPage(t, c, base+"/pay", url.Values{"item": items})
	m := checkoutPath.FindStringSubmatch(loc)
	if status != http.StatusSeeOther || m == nil {
		t.Fatalf("POST /pay: %d %q\n%s", status, loc, body)
	}
	req, _ := http.NewRequest("GET", base+loc, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	next := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(next, "/pay/sandbox/sbx_") {
		t.Fatalf("GET %s: %d %q", loc, resp.StatusCode, next)
	}
	return m[1], next
}

// follow GETs u with c (not following redirects) and returns status,
// location and body.
func follow(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), b.String()
}

// card is a complete test card form.
func card(number string) url.Values {
	return url.Values{"card-number": {number}, "expiry-month": {"12"}, "expiry-year": {"2030"}, "cvc": {"123"}, "cardholder-name": {"Ana Citizen"}}
}

// feesPaid returns the case's fee requests.
func feesOf(t *testing.T, a *app.App, caseID string) []casework.Payment {
	t.Helper()
	fees, err := a.Casework.Payments(context.Background(), caseID)
	if err != nil {
		t.Fatal(err)
	}
	return fees
}

// TestPayJourney pays through the real program over HTTP what Ana owes
// across agencies: the demo's dog license fee (Adams County Clerk), her
// property-tax instalment (Adams County Treasurer) and a fishing license
// fee (Fish & Wildlife, whose workflow issues the license once paid).
// Nothing chosen, or an item already being paid, is refused with the
// page's error; Beto and anonymous visitors cannot see her checkout; a
// declined card charges nothing, marks nothing paid and releases the
// items; the test card 4242… pays all three in one checkout, each agency
// its share; the consumers mark the fees and the instalment paid, the
// fishing license is issued, and the books balance.
func TestPayJourney(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	fishing := openCase(t, a, "app-fishing-pay", "ana.citizen@example.com", "fishing-licence", map[string]map[string]any{"licence": {"residency": "resident"}})
	ana := signInClient(t, base, "ana.citizen@example.com", false)
	beto := signInClient(t, base, "beto.ciudadano@example.com", false)
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	status, body := page(t, ana, base+"/pay")
	if status != http.StatusOK {
		t.Fatalf("GET /pay: %d", status)
	}
	for _, want := range []string{"Adams County Clerk", "Adams County Treasurer", "$1,235.50", "$10.00", "$25.00", fishing.Reference, "No fee is added"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Pay page lacks %q", want)
		}
	}
	items := payItems(body)
	if len(items) != 3 {
		t.Fatalf("payable items %v", items)
	}
	if !strings.Contains(body, `id="total">$1,270.50<`) {
		t.Errorf("total owed is not $1,270.50:\n%s", body)
	}
	// Nothing chosen: the page again, with the error summary.
	if status, _, body := postPage(t, ana, base+"/pay", url.Values{}); status != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose at least one thing to pay.") || !strings.Contains(body, `id="error-summary"`) {
		t.Fatalf("nothing chosen: %d\n%s", status, body)
	}
	// An item that is not Ana's (or not owed) is refused.
	if status, _, _ := postPage(t, ana, base+"/pay", url.Values{"item": {"case_payment:999999"}}); status != http.StatusConflict {
		t.Fatalf("someone else's item: %d", status)
	}

	// Two POSTs at once for the same items: one checkout.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	locs := make([]string, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], locs[i], _ = postPage(t, ana, base+"/pay", url.Values{"item": items})
		}()
	}
	wg.Wait()
	var first string
	for i, c := range codes {
		switch c {
		case http.StatusSeeOther:
			if first != "" {
				t.Fatalf("two checkouts for the same items: %v", locs)
			}
			first = locs[i]
		case http.StatusConflict:
		default:
			t.Fatalf("racing POSTs: %v", codes)
		}
	}
	if first == "" {
		t.Fatalf("no checkout opened: %v", codes)
	}
	id := checkoutPath.FindStringSubmatch(first)[1]
	// Being paid: shown so, and not payable again.
	if _, body := page(t, ana, base+"/pay"); len(payItems(body)) != 0 || !strings.Contains(body, "/pay/checkouts/"+id) {
		t.Fatalf("items in a checkout are still payable:\n%s", body)
	}
	// Only Ana may see her checkout's pages.
	if status, _, _ := follow(t, beto, base+"/pay/checkouts/"+id); status != http.StatusNotFound {
		t.Errorf("Beto sees Ana's checkout: %d", status)
	}
	if status, loc, _ := follow(t, anon, base+"/pay/checkouts/"+id+"/return"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/sign-in?") {
		t.Errorf("anonymous: %d %q", status, loc)
	}
	status, sandbox, _ := follow(t, ana, base+first)
	if status != http.StatusSeeOther || !strings.HasPrefix(sandbox, "/pay/sandbox/") {
		t.Fatalf("begin: %d %q", status, sandbox)
	}
	if status, _, _ := follow(t, beto, base+sandbox); status != http.StatusNotFound {
		t.Errorf("Beto sees Ana's test payment page: %d", status)
	}
	status, body = page(t, ana, base+sandbox)
	if status != http.StatusOK || !strings.Contains(body, "no money is taken") || !strings.Contains(body, "$1,270.50") {
		t.Fatalf("test page: %d\n%s", status, body)
	}

	// A mistake: the page again, what was typed kept (not the code).
	bad := card("4242 4242 4242 4241")
	bad.Set("cvc", "999")
	status, _, body = postPage(t, ana, base+sandbox, bad)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter a valid card number") || !strings.Contains(body, `value="4242 4242 4242 4241"`) || strings.Contains(body, `value="999"`) {
		t.Fatalf("card mistake: %d\n%s", status, body)
	}

	// Declined: nothing charged, nothing paid, the items released.
	status, ret, _ := postPage(t, ana, base+sandbox, card("4000 0000 0000 0002"))
	if status != http.StatusSeeOther || !strings.HasSuffix(ret, "/pay/checkouts/"+id+"/return") {
		t.Fatalf("declined card: %d %q", status, ret)
	}
	status, body = page(t, ana, ret)
	if status != http.StatusOK || !strings.Contains(body, "Your card was declined") || !strings.Contains(body, "Nothing was charged") || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("declined page: %d\n%s", status, body)
	}
	if rep, err := payment.Check(ctx, a.DB); err != nil || !rep.OK() {
		t.Fatalf("ledger after a decline: %+v %v", rep, err)
	}
	if c, _ := a.Payments.Checkout(ctx, id); c.State.Status != payment.Failed || c.State.Code != payment.CodeRejected {
		t.Fatalf("declined checkout: %+v", c.State)
	}
	for _, f := range feesOf(t, a, fishing.ID) {
		if f.PaidAt != nil {
			t.Fatalf("a declined card paid the fee: %+v", f)
		}
	}
	_, body = page(t, ana, base+"/pay")
	if again := payItems(body); len(again) != 3 {
		t.Fatalf("after the decline the items are not payable again: %v", again)
	}

	// Paid: three agencies, one card payment.
	id, sandbox = payOnce(t, ana, base, items)
	status, ret, _ = postPage(t, ana, base+sandbox, card("4242 4242 4242 4242"))
	if status != http.StatusSeeOther {
		t.Fatalf("success card: %d", status)
	}
	status, body = page(t, ana, ret)
	if status != http.StatusOK || !strings.Contains(body, "Payment received") || !strings.Contains(body, "/pay/receipts/"+id) || !strings.Contains(body, "Visa ending in 4242") {
		t.Fatalf("success page: %d\n%s", status, body)
	}
	// It paid a case's fee: the page offers the satisfaction survey.
	if !strings.Contains(body, `id="satisfaction-panel"`) || !strings.Contains(body, `href="/satisfaction?after=paid&amp;service=`) {
		t.Errorf("the paid result page does not offer the survey:\n%s", body)
	}
	c, err := a.Payments.Checkout(ctx, id)
	if err != nil || c.State.Status != payment.Success || len(c.Payments) != 3 {
		t.Fatalf("paid checkout %+v %v", c, err)
	}
	// The consumers mark what was paid, the workflow moves on.
	deadline := time.Now().Add(30 * time.Second)
	for {
		fees := feesOf(t, a, fishing.ID)
		k, err := a.Casework.Case(ctx, fishing.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(fees) == 1 && fees[0].PaidAt != nil && k.State == "issued" {
			if fees[0].PaidBy != casework.PaidBy || fees[0].PaidAmount != 2500 || !contains(c.Payments, fees[0].PaidRef) {
				t.Errorf("fee recorded as %+v", fees[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fishing license fee not recorded: %+v, case in %s", fees, k.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		_, body = page(t, ana, base+"/pay")
		if strings.Contains(body, `id="nothing-owed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still owed after paying:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	obs, err := a.Reminders.List(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: c.Account}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if o.Source == "demo:property-tax-2" && o.Status != "done" {
			t.Errorf("the instalment is %s", o.Status)
		}
	}
	if rep, err := payment.Check(ctx, a.DB); err != nil || !rep.OK() {
		t.Fatalf("ledger: %+v %v", rep, err)
	}
	// A repeated delivery of the succeeded event (a crash before the
	// cursor moved), and a second event for the same payment, record
	// nothing twice.
	entriesBefore := paidEntries(t, a, fishing.ID)
	for _, cons := range a.Bus.Consumers() {
		if cons.Name != casework.PaymentsConsumer && cons.Name != "reminder.payments" {
			continue
		}
		for _, pid := range c.Payments {
			for _, evID := range []string{"replay-" + pid, "replay-" + pid} {
				if err := cons.Handle(ctx, events.Event{ID: evID, Type: payment.EventSucceeded, Data: []byte(`{"payment_id":"` + pid + `"}`)}); err != nil {
					t.Fatalf("%s: %v", cons.Name, err)
				}
			}
		}
	}
	if got := paidEntries(t, a, fishing.ID); got != entriesBefore || got != 1 {
		t.Errorf("the fee's payment is in the timeline %d times (before the replay %d)", got, entriesBefore)
	}
	// The return page again (a reload) changes nothing.
	if status, body = page(t, ana, ret); status != http.StatusOK || !strings.Contains(body, "Payment received") {
		t.Fatalf("reload: %d", status)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// beginObligationCheckout opens and begins a checkout of the first open
// obligation with an amount of the account (a demo citizen's property-tax
// instalment), as the Pay page would, for the route tables' objects.
func beginObligationCheckout(t *testing.T, a *app.App, base, account string) payment.Checkout {
	t.Helper()
	ctx := context.Background()
	who := platform.Actor{Kind: platform.ActorCitizen, ID: account}
	obs, err := a.Reminders.List(ctx, who, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if o.Amount == nil || o.Amount.Minor < 1 || o.AgencyID == "" {
			continue
		}
		c, err := a.Payments.Open(ctx, who, payment.OpenCheckout{Account: account, ReturnURL: base + "/pay", Items: []payment.Item{{
			Kind: payment.ItemObligation, Source: o.ID, Agency: o.AgencyID, Amount: o.Amount.Minor, Currency: o.Amount.Currency,
			Reference: o.Reference, DescriptionEN: o.Title.EN, DescriptionES: o.Title.ES}}})
		if err != nil {
			t.Fatal(err)
		}
		if c, err = a.Payments.Begin(ctx, who, c.ID, base+"/pay/checkouts/"+c.ID+"/return", "Test"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Fatal("the account owes no obligation with an amount")
	return payment.Checkout{}
}

// paidEntries counts the case's timeline entries of a recorded payment.
func paidEntries(t *testing.T, a *app.App, caseID string) int {
	t.Helper()
	entries, err := a.Casework.Timeline(context.Background(), caseID, false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action() == "payment_recorded" {
			n++
		}
	}
	return n
}
