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
	Outcome   payment.Outcome
}

// Payments are the demo's payments: Ana paid the Adams County Clerk for
// a certified copy of a birth certificate and the DMV for a renewal; Beto's
// card was declined paying the clerk for a marriage licence. Fay (the
// clerk's finance staff) sees the clerk's; Dana (the DMV's administrator)
// the DMV's; Pat (platform administrator) every agency's.
var Payments = []DemoPayment{
	{Email: "ana.citizen@example.com", Agency: "adams-clerk", Reference: "DEMO-PAY-0001", Amount: 4500,
		EN: "Certified copy of a birth certificate (2 copies)", ES: "Copia certificada de acta de nacimiento (2 copias)",
		Outcome: payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242"}},
	{Email: "beto.ciudadano@example.com", Agency: "adams-clerk", Reference: "DEMO-PAY-0002", Amount: 6000,
		EN: "Marriage licence", ES: "Licencia de matrimonio",
		Outcome: payment.Outcome{Status: payment.Failed, Code: payment.CodeRejected, CardBrand: "visa", LastDigits: "0002"}},
	{Email: "ana.citizen@example.com", Agency: "dmv", Reference: "DEMO-PAY-0003", Amount: 8575,
		EN: "Vehicle registration renewal (EX 4KQ-218)", ES: "Renovación del registro del vehículo (EX 4KQ-218)",
		Outcome: payment.Outcome{Status: payment.Success, CardBrand: "mastercard", LastDigits: "4444"}},
}

// PaymentBlock is what seeding payments needs of the payment block.
type PaymentBlock interface {
	HasReference(ctx context.Context, agency, reference string) (bool, error)
	OpenCheckout(ctx context.Context, tx *sql.Tx, actor platform.Actor, o payment.OpenCheckout) (payment.Checkout, error)
	Settle(ctx context.Context, actor platform.Actor, id string, o payment.Outcome) (payment.Checkout, error)
}

// SeedPayments makes each demo payment the agency does not have yet
// through the payment block (a checkout, settled as the sandbox would),
// so the ledger holds their charges, and returns how many it made.
func SeedPayments(ctx context.Context, db *storage.DB, ids Accounts, pays PaymentBlock) (int, error) {
	actor := platform.Actor{Kind: platform.ActorSystem, ID: "demo-seed"}
	ctx = platform.WithActor(ctx, actor)
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
				ReturnURL: "http://localhost:8080/pay/return",
				Items: []payment.Item{{Kind: payment.ItemAPI, Agency: d.Agency, Amount: d.Amount, Currency: "USD", Reference: d.Reference,
					DescriptionEN: d.EN, DescriptionES: d.ES}}})
			return err
		}); err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		if _, err := pays.Settle(ctx, actor, c.ID, d.Outcome); err != nil {
			return made, fmt.Errorf("demo: payment %s: %w", d.Reference, err)
		}
		made++
	}
	return made, nil
}
