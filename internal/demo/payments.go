package demo

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// DemoPayment is a payment the demo makes so the finance console has
// something to show: a demo citizen pays an agency through a checkout
// that the sandbox settled.
type DemoPayment struct {
	Email     string
	Agency    string
	Reference string // unique per agency: the demo adds it once
	Amount    int64
	EN, ES    string
	// Card is the sandbox test card the person pays with (its outcome
	// is the sandbox's: 4242… succeeds, 4000 0000 0000 0002 is declined).
	Card string
	// Refund is given back (in part) by the clerk's finance staff, with
	// RefundReason, once the payment succeeded.
	Refund       int64
	RefundReason string
}

// Payments are the demo's payments: Ana paid the Adams County Clerk for
// two certified copies of a birth certificate (one was refunded) and the
// DMV for a renewal; Beto's
// card was declined paying the clerk for a marriage licence. Fay (the
// clerk's finance staff) sees the clerk's; Dana (the DMV's administrator)
// the DMV's; Pat (platform administrator) every agency's.
var Payments = []DemoPayment{
	{Email: "ana.citizen@example.com", Agency: "adams-clerk", Reference: "DEMO-PAY-0001", Amount: 4500,
		EN: "Certified copy of a birth certificate (2 copies)", ES: "Copia certificada de acta de nacimiento (2 copias)",
		Card:   "4242424242424242",
		Refund: 2250, RefundReason: "Only one copy could be issued: the second was refunded."},
	{Email: "beto.ciudadano@example.com", Agency: "adams-clerk", Reference: "DEMO-PAY-0002", Amount: 6000,
		EN: "Marriage licence", ES: "Licencia de matrimonio",
		Card: "4000000000000002"},
	{Email: "ana.citizen@example.com", Agency: "dmv", Reference: "DEMO-PAY-0003", Amount: 8575,
		EN: "Vehicle registration renewal (EX 4KQ-218)", ES: "Renovación del registro del vehículo (EX 4KQ-218)",
		Card: "5555555555554444"},
}

// PaymentBlock is what seeding payments needs of the payment block.
type PaymentBlock interface {
	HasReference(ctx context.Context, agency, reference string) (bool, error)
	OpenCheckout(ctx context.Context, tx *sql.Tx, actor platform.Actor, o payment.OpenCheckout) (payment.Checkout, error)
	Provider(name string) (payment.Provider, error)
	Begin(ctx context.Context, actor platform.Actor, id, returnURL, description string) (payment.Checkout, error)
	Settle(ctx context.Context, actor platform.Actor, id string, o payment.Outcome) (payment.Checkout, error)
	Refund(ctx context.Context, actor platform.Actor, agency, paymentID string, amount, expectedAvailable int64, reason string) (payment.Refund, error)
}

// SandboxPage is the sandbox's test payment page, where the demo's
// people type their test cards (*payment.Sandbox).
type SandboxPage interface {
	Pay(ctx context.Context, ref string, card payment.Card) (payment.SandboxCharge, map[string]string, error)
}

// SeedPayments makes each demo payment the agency does not have yet the
// way a person makes one, and returns how many it made: a checkout begun
// with the sandbox, the person's test card typed on the sandbox's page,
// and the checkout settled from what the sandbox then reports (as the
// return page does), so the ledger holds the charges and the sandbox its
// own record of them. The demo's refund is asked for as finance staff ask
// for it; the refund job completes it with the sandbox.
func SeedPayments(ctx context.Context, db *storage.DB, ids Accounts, pays PaymentBlock, sandbox SandboxPage) (int, error) {
	actor := platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"}
	ctx = platform.WithActor(ctx, actor)
	prov, err := pays.Provider(payment.SandboxName)
	if err != nil {
		return 0, err
	}
	made := 0
	for _, d := range Payments {
		if ok, err := pays.HasReference(ctx, d.Agency, d.Reference); err != nil {
			return made, err
		} else if ok {
			continue
		}
		acct, err := ids.AccountByEmail(ctx, d.Email)
		if err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		var c payment.Checkout
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			c, err = pays.OpenCheckout(ctx, tx, actor, payment.OpenCheckout{Account: acct.ID, Email: d.Email, Language: acct.Lang,
				ReturnURL: "http://localhost:8080/pay/return", Provider: payment.SandboxName,
				Items: []payment.Item{{Kind: payment.ItemAPI, Agency: d.Agency, Amount: d.Amount, Currency: "USD", Reference: d.Reference,
					DescriptionEN: d.EN, DescriptionES: d.ES}}})
			return err
		}); err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		if c, err = pays.Begin(ctx, actor, c.ID, "http://localhost:8080/pay/return", d.EN); err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		card := payment.Card{Number: d.Card, ExpiryMonth: "04", ExpiryYear: "30", CVC: "123", Name: d.Email}
		if _, problems, err := sandbox.Pay(ctx, c.ProviderRef, card); err != nil || len(problems) > 0 {
			return made, fmt.Errorf("demo: payment %s: the sandbox refused the test card: %v %v", d.Reference, problems, err)
		}
		truth, err := prov.Status(ctx, c.ProviderRef)
		if err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		if _, err := pays.Settle(ctx, actor, c.ID, truth); err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		if d.Refund > 0 && truth.Status == payment.Success {
			// Fay, the clerk's finance staff, gives it back.
			fay, err := ids.AccountByEmail(ctx, "fay.clerk-finance@example.gov")
			if err != nil {
				return made, fmt.Errorf("demo: refund of %s: %w", d.Reference, err)
			}
			if _, err := pays.Refund(ctx, fay.Actor(), d.Agency, c.Payments[0], d.Refund, -1, d.RefundReason); err != nil {
				return made, fmt.Errorf("demo: refund of %s: %w", d.Reference, err)
			}
		}
		made++
	}
	return made, nil
}
