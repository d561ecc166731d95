package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
)

// TestFinanceJourney walks the finance console through the real HTTP
// server of the demo: Fay (the Adams County Clerk's finance staff) finds
// the demo's payments, filters them, opens the paid one, is told what is
// wrong with a refund form and keeps what she typed, confirms a partial
// refund, cannot refund from a stale page, and downloads the day's
// reconciliation and remittance, whose totals are the ledger's; Eli (a
// caseworker of the same agency) is refused; every view is audited.
func TestFinanceJourney(t *testing.T) {
	base, a := startDemoApp(t, t.TempDir())
	ctx := context.Background()
	fay := signInClient(t, base, "fay.clerk-finance@example.gov", true)
	eli := signInClient(t, base, "eli.clerk@example.gov", true)

	get := func(c *http.Client, path string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	send := func(c *http.Client, path string, form url.Values) (int, string, string) {
		t.Helper()
		resp := postForm(t, c, base+path, form)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Location")
	}

	// The list: the clerk's two demo payments, newest first, in plain words.
	status, body, _ := get(fay, "/console/payments")
	if status != 200 || !strings.Contains(body, "DEMO-PAY-0001") || !strings.Contains(body, "DEMO-PAY-0002") || strings.Contains(body, "DEMO-PAY-0003") {
		t.Fatalf("Fay's list: %d\n%.3000s", status, body)
	}
	for _, want := range []string{"Paid", "Not paid", "$45.00", "$60.00", "ana.citizen@example.com"} {
		if !strings.Contains(body, want) {
			t.Errorf("the list does not say %q", want)
		}
	}
	status, body, _ = get(fay, "/console/payments?status=failed&lang=es")
	if status != 200 || strings.Contains(body, "DEMO-PAY-0001") || !strings.Contains(body, "DEMO-PAY-0002") || !strings.Contains(body, "No pagado") {
		t.Fatalf("filtered in Spanish: %d\n%.3000s", status, body)
	}
	// A date that cannot be read is shown with the error summary, the
	// typed boxes kept, and no list.
	status, body, _ = get(fay, "/console/payments?from-month=13&from-day=1&from-year=2026&email=ana.citizen%40example.com&lang=en")
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="error-summary"`) || !strings.Contains(body, `value="13"`) ||
		!strings.Contains(body, `value="ana.citizen@example.com"`) || strings.Contains(body, "DEMO-PAY-0001") {
		t.Fatalf("a bad date: %d\n%.3000s", status, body)
	}
	// Another agency's payments are not Fay's to choose.
	if status, _, _ = get(fay, "/console/payments?agency=dmv"); status != http.StatusNotFound {
		t.Errorf("Fay asking for the DMV's payments: %d", status)
	}
	// A caseworker of the clerk's office sees no payments.
	if status, _, _ = get(eli, "/console/payments"); status != http.StatusForbidden {
		t.Errorf("Eli's list: %d", status)
	}

	admin := platform.Actor{Kind: platform.ActorStaff, ID: "journey", PlatformAdmin: true}
	listed, err := a.Payments.List(ctx, admin, payment.Filter{Agency: "adams-clerk", Reference: "DEMO-PAY-0001"})
	if err != nil || len(listed.Payments) != 1 {
		t.Fatalf("the demo's paid clerk payment: %+v %v", listed, err)
	}
	paid := listed.Payments[0]
	before, err := a.Payments.View(ctx, admin, paid.ID)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ = get(eli, "/console/payments/"+paid.ID); status != http.StatusForbidden {
		t.Errorf("Eli's view of a payment: %d", status)
	}
	status, body, _ = get(fay, "/console/payments/"+paid.ID)
	for _, want := range []string{"Certified copy of a birth certificate", "Revenue", `name="reason"`, "Paid", "Visa ending in 4242"} {
		if status != 200 || !strings.Contains(body, want) {
			t.Fatalf("the payment page: %d, no %q\n%s", status, want, body[strings.Index(body, "<main"):])
		}
	}
	var reads int
	if err := a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'payment.read' AND subject = $1`, "payment:"+paid.ID).Scan(&reads); err != nil || reads < 1 {
		t.Errorf("the view is not audited: %d %v", reads, err)
	}
	expected := strconv.FormatInt(before.Available, 10)

	// Mistakes: no reason, an amount above what is left. The form comes
	// back with both named and what was typed kept.
	status, body, _ = send(fay, "/console/payments/"+paid.ID+"/refund", url.Values{"kind": {"partial"}, "amount": {"999"}, "reason": {""}, "expected": {expected}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter the reason for the refund.") || !strings.Contains(body, "cannot be more than") || !strings.Contains(body, `value="999"`) {
		t.Fatalf("a bad refund form: %d\n%.3000s", status, body)
	}
	// The first step shows what is about to happen and refunds nothing.
	form := url.Values{"kind": {"partial"}, "amount": {"10.00"}, "reason": {"Overcharged for postage"}, "expected": {expected}}
	status, body, _ = send(fay, "/console/payments/"+paid.ID+"/refund", form)
	if status != 200 || !strings.Contains(body, "Check the refund") || !strings.Contains(body, "Refund $10.00") || !strings.Contains(body, `name="confirm" value="yes"`) {
		t.Fatalf("the confirmation: %d\n%.3000s", status, body)
	}
	if d, _ := a.Payments.View(ctx, admin, paid.ID); len(d.Refunds) != len(before.Refunds) {
		t.Fatal("the confirmation step refunded")
	}
	form.Set("confirm", "yes")
	status, _, loc := send(fay, "/console/payments/"+paid.ID+"/refund", form)
	if status != http.StatusSeeOther || loc != "/console/payments/"+paid.ID+"?refunded=1" {
		t.Fatalf("the refund: %d %q", status, loc)
	}
	after, err := a.Payments.View(ctx, admin, paid.ID)
	if err != nil || len(after.Refunds) != len(before.Refunds)+1 || after.Available != before.Available-1000 {
		t.Fatalf("after the refund: %+v %v", after, err)
	}
	last := after.Refunds[len(after.Refunds)-1]
	if last.Amount != 1000 || last.Reason != "Overcharged for postage" || !strings.Contains(last.Actor, "staff:") {
		t.Errorf("the refund recorded: %+v", last)
	}
	status, body, _ = get(fay, "/console/payments/"+paid.ID+"?refunded=1")
	if status != 200 || !strings.Contains(body, "The refund was sent to the payment provider.") || !strings.Contains(body, "Overcharged for postage") {
		t.Errorf("the page after the refund: %d\n%.3000s", status, body)
	}
	// The same confirmed form again: the page it came from is stale.
	status, body, _ = send(fay, "/console/payments/"+paid.ID+"/refund", form)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "refunded by someone else meanwhile") {
		t.Errorf("a stale refund form: %d\n%.3000s", status, body)
	}
	if d, _ := a.Payments.View(ctx, admin, paid.ID); len(d.Refunds) != len(after.Refunds) {
		t.Error("a stale form refunded again")
	}

	// Reports: today's reconciliation lists the paid payment's charge;
	// the remittance's net is what the ledger holds for the clerk.
	loc2 := a.Tenancy.Zone(ctx)
	now := a.Clock.Now().In(loc2)
	today := fmt.Sprintf("%02d/%02d/%04d", int(now.Month()), now.Day(), now.Year())
	status, body, _ = get(fay, "/console/payments/reports")
	if status != 200 || !strings.Contains(body, "DEMO-PAY-0001") || !strings.Contains(body, "reconciliation.csv?agency=adams-clerk&amp;day="+url.QueryEscape(today)) {
		t.Fatalf("the reports page: %d\n%.3000s", status, body)
	}
	status, body, hdr := get(fay, "/console/payments/reports/reconciliation.csv?agency=adams-clerk&day="+url.QueryEscape(today))
	if status != 200 || hdr.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("the reconciliation CSV: %d %v\n%s", status, hdr, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) < 3 || strings.Join(rows[0], ",") != "agency,day,kind,payment_id,reference,provider,provider_reference,payment_status,amount,currency,posted_at" {
		t.Fatalf("the reconciliation CSV: %v\n%s", err, body)
	}
	found := false
	for _, r := range rows[1:] {
		if r[3] == paid.ID && r[2] == "charge" && r[8] == "45.00" {
			found = true
		}
	}
	if !found {
		t.Errorf("the reconciliation does not list the paid payment's charge:\n%s", body)
	}
	rep, err := payment.Check(ctx, a.DB)
	if err != nil || !rep.OK() {
		t.Fatalf("ledger check: %+v %v", rep, err)
	}
	var revenue int64
	for _, b := range rep.Balances {
		if b.Agency == "adams-clerk" && b.Account == payment.AccountRevenue {
			revenue = -b.Amount
		}
	}
	status, body, _ = get(fay, "/console/payments/reports/remittance.csv?agency=adams-clerk&from="+url.QueryEscape(today)+"&to="+url.QueryEscape(today))
	rows, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	if status != 200 || err != nil || len(rows) < 2 {
		t.Fatalf("the remittance CSV: %d %v\n%s", status, err, body)
	}
	total := rows[len(rows)-1]
	if total[1] != "total" || total[7] != fmt.Sprintf("%d.%02d", revenue/100, revenue%100) {
		t.Errorf("the remittance's net %v is not the ledger's revenue %d", total, revenue)
	}
	// A day that is not a day is a clear mistake, not a file.
	status, body, _ = get(fay, "/console/payments/reports/reconciliation.csv?agency=adams-clerk&day=2026-12-05")
	if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		t.Errorf("a day in the wrong form: %d\n%.500s", status, body)
	}
	if regexp.MustCompile(`(?i)panic|goroutine`).MatchString(body) {
		t.Errorf("the error page leaks internals:\n%s", body)
	}
	// The reports of another agency are not Fay's.
	if status, _, _ = get(fay, "/console/payments/reports/reconciliation.csv?agency=dmv&day="+url.QueryEscape(today)); status != http.StatusNotFound {
		t.Errorf("Fay's DMV reconciliation: %d", status)
	}
}
