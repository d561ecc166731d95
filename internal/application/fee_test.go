package application_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/application"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// gil turns 65 on 25 November 2026, the day after the test clock starts.
var gil = application.Applicant{AccountID: "acct-gil", Lang: "en", DateOfBirth: "1961-11-25",
	Residential: application.Address{ZIP: "70101"}, Jurisdictions: []string{"springfield", "adams-county", "example"}}

// feeLater charges on approval, not at submission, and its fee depends on
// the answers and on the applicant's age.
const feeLater = `id: fee-later
version: %d
agency: springfield-public-works
jurisdictions: [springfield]
title: {en: Parking permit, es: Permiso de estacionamiento}
summary: {en: A permit paid for once it is approved., es: Un permiso que se paga una vez aprobado.}
category: streets
keywords: {en: [parking], es: [estacionamiento]}
kind: permit
maturity: alpha
pages:
  - id: about
    title: {en: Your permit, es: Su permiso}
    schema:
      type: object
      required: [plan]
      properties:
        plan: {type: string, enum: [basic, premium]}
    fields:
      plan: {label: {en: Plan, es: Plan}, widget: radios}
fee:
  currency: USD
  %s
workflow:
  initial: review
  states:
    review: {title: {en: In review, es: En revisión}, sla: 5d}
    payment:
      title: {en: Waiting for payment, es: Esperando el pago}
      sla: 30d
      on_enter:
        - request_payment: {due: 30d}
    issued: {title: {en: Issued, es: Emitido}, terminal: true}
  transitions:
    - {id: approve, from: review, to: payment, by: [caseworker], label: {en: Approve, es: Aprobar}}
    - {id: paid, from: payment, to: issued, by: [system], guard: payment.paid, label: {en: Paid, es: Pagado}}
`

// TestFeeFixedAtSubmission: the fee is worked out once, when the
// application is submitted, and that amount is what the case asks for
// and takes at the counter later, though a new version of the service
// charges something else and the applicant has since had the birthday
// that would make the fee 0.
func TestFeeFixedAtSubmission(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		publish := func(version int, fee string) {
			t.Helper()
			src := []byte(fmt.Sprintf(feeLater, version, fee))
			if _, err := e.cat.Publish(e.ctx, "springfield-public-works", "fee-later.yaml", src); err != nil {
				t.Fatal(err)
			}
		}
		publish(1, `expression: 'answers.about.plan == "premium" ? 5000 : (person.age >= 65 ? 0 : 2500)'`)
		draft, err := e.svc.Start(e.ctx, gil, "fee-later")
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.SavePage(e.ctx, gil, draft.ID, "about", url.Values{"plan": {"basic"}})
		if err != nil || len(res.Problems) > 0 {
			t.Fatalf("save: %v %v", res.Problems, err)
		}
		sub, err := e.svc.Submit(e.ctx, gil, draft.ID, res.App.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if sub.FeeAmount == nil || *sub.FeeAmount != 2500 || sub.FeeCurrency != "USD" {
			t.Fatalf("fee at submission: %v %q, want 2500 USD (aged 64)", sub.FeeAmount, sub.FeeCurrency)
		}
		c, err := e.cases.Case(e.ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Fee == nil || c.Fee.Amount != 2500 || c.Fee.Currency != "USD" {
			t.Fatalf("the case keeps %+v, want 2500 USD", c.Fee)
		}

		publish(2, `amount: 9999`)
		e.clock.Advance(48 * time.Hour) // gil is 65 now: worked out again, the fee would be 0
		// Staff of the service's agency act: a caseworker approves, finance takes the fee.
		worker := platform.Actor{Kind: platform.ActorStaff, ID: "staff-1", Grants: []platform.Grant{{Agency: "springfield-public-works", Role: "caseworker"}}}
		finance := platform.Actor{Kind: platform.ActorStaff, ID: "staff-2", Grants: []platform.Grant{{Agency: "springfield-public-works", Role: "finance"}}}
		if _, err := e.cases.Take(e.ctx, worker, sub.ID, "approve"); err != nil {
			t.Fatal(err)
		}
		pays, err := e.cases.Payments(e.ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(pays) != 1 || pays[0].Amount != 2500 || pays[0].Currency != "USD" {
			t.Fatalf("payments asked for: %+v, want one of 2500 USD", pays)
		}
		for _, wrong := range []int64{0, 9999} {
			if _, err := e.cases.RecordPayment(e.ctx, finance, sub.ID, wrong, "R-1"); err == nil {
				t.Fatalf("the counter took %d", wrong)
			}
		}
		after, err := e.cases.RecordPayment(e.ctx, finance, sub.ID, 2500, "R-1")
		if err != nil {
			t.Fatal(err)
		}
		if after.State != "issued" {
			t.Fatalf("after payment the case is %q, want issued", after.State)
		}
	})
}

// TestFieldsInManifestOrder: the form asks, and check your answers
// lists, a page's questions in the order the manifest wrote them (not
// alphabetically, not required first), after the manifest went through
// the database.
func TestFieldsInManifestOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		src := strings.Replace(fmt.Sprintf(feeLater, 1, "amount: 100"), "      required: [plan]\n      properties:\n        plan: {type: string, enum: [basic, premium]}",
			"      required: [plan]\n      properties:\n        zone: {type: string}\n        plan: {type: string, enum: [basic, premium]}\n        car: {type: string}", 1)
		if _, err := e.cat.Publish(e.ctx, "springfield-public-works", "fee-later.yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
		f, err := e.svc.Form(e.ctx, "fee-later", 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fl := range f.Page("about").Fields {
			got = append(got, fl.Name)
		}
		if want := []string{"zone", "plan", "car"}; !slices.Equal(got, want) {
			t.Errorf("fields %v, want %v", got, want)
		}
	})
}
