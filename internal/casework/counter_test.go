package casework_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// counterClaims is internal/app's adapter of the payment block, as the
// program wires it.
type counterClaims struct{ p *payment.Service }

func (c counterClaims) ClaimFees(ctx context.Context, tx *sql.Tx, fees []int64, by string) error {
	sources := make([]string, len(fees))
	for i, id := range fees {
		sources[i] = strconv.FormatInt(id, 10)
	}
	err := c.p.ClaimForCounter(ctx, tx, payment.ItemCasePayment, sources, by)
	switch {
	case errors.Is(err, payment.ErrPayingOnline):
		return casework.ErrFeePayingOnline
	case errors.Is(err, payment.ErrPaidOnline):
		return casework.ErrFeePaidOnline
	}
	return err
}

// TestCounterAndOnlineNeverBothTakeTheFee: a counter payment and an
// online checkout for the same fee cannot both take it. A checkout the
// person opened but has not begun is cancelled by the counter payment
// (P0040, with its payments) and a new one is refused; while the person
// is on the provider's page the counter is refused with the reason in
// the staff's words, and nothing is recorded; once paid online the
// counter is refused again. On SQLite and PostgreSQL.
func TestCounterAndOnlineNeverBothTakeTheFee(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		log, bus := audit.New(db, e.clock, nil), events.NewBus(e.clock)
		pays, err := payment.NewService(db, log, bus, e.clock)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := payment.NewSandbox(db, e.clock)
		if err != nil {
			t.Fatal(err)
		}
		pays.Register(sb)
		cw, err := casework.New(db, log, bus, e.clock, casework.Deps{Runtimes: e.cat, Citizens: citizens{manifest.Person{Age: 40, Language: "en"}},
			Mailer: e.mailer, People: people{}, Counter: counterClaims{pays}})
		if err != nil {
			t.Fatal(err)
		}
		person := platform.Actor{Kind: platform.ActorCitizen, ID: "acct-1"}
		e.ctx = platform.WithActor(e.ctx, person)
		ctx := context.Background()
		checkoutFor := func(c casework.Case) (payment.Checkout, error) {
			fees, err := cw.Payments(ctx, c.ID)
			if err != nil || len(fees) != 1 {
				t.Fatalf("fees %+v %v", fees, err)
			}
			return pays.Open(ctx, person, payment.OpenCheckout{Account: person.ID, ReturnURL: "https://portico.example.gov/pay", Items: []payment.Item{
				{Kind: payment.ItemCasePayment, Source: strconv.FormatInt(fees[0].ID, 10), Agency: c.AgencyID, Amount: fees[0].Amount, Currency: "USD",
					Reference: c.Reference, DescriptionEN: "Dog license", DescriptionES: "Licencia de perro"}}})
		}
		paid := func(c casework.Case) bool {
			fees, err := cw.Payments(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return fees[0].PaidAt != nil
		}

		// Opened, not begun: the counter wins and the checkout ends.
		a := e.open("d1", "adams-dog-licence", dogAnswers)
		fin := principals(a.AgencyID)["finance"]
		idle, err := checkoutFor(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cw.RecordPayment(e.ctx, fin, a.ID, 1000, "CASH-1"); err != nil {
			t.Fatalf("counter with an idle checkout: %v", err)
		}
		got, err := pays.Checkout(ctx, idle.ID)
		if err != nil || got.State.Status != payment.Cancelled || got.State.Code != payment.CodeCancelledBySystem {
			t.Fatalf("the idle checkout: %+v %v", got.State, err)
		}
		if c, err := pays.Begin(ctx, person, idle.ID, "https://portico.example.gov/r", "Adams"); err != nil || c.ProviderRef != "" {
			t.Fatalf("a cancelled checkout was begun: %+v %v", c, err)
		}
		if _, err := checkoutFor(a); !errors.Is(err, payment.ErrAlreadyPaying) {
			t.Fatalf("a checkout for a fee paid at the counter: %v", err)
		}

		// Begun: the person may be typing their card; the counter waits.
		b := e.open("d2", "adams-dog-licence", dogAnswers)
		busy, err := checkoutFor(b)
		if err != nil {
			t.Fatal(err)
		}
		if busy, err = pays.Begin(ctx, person, busy.ID, "https://portico.example.gov/r", "Adams"); err != nil {
			t.Fatal(err)
		}
		_, err = cw.RecordPayment(e.ctx, fin, b.ID, 1000, "CASH-2")
		var ref *casework.Refusal
		if platform.ErrorCode(err) != platform.CodeConflict || !errors.As(err, &ref) || ref.Reason.Key != "case.reason.paying_online" {
			t.Fatalf("counter while paying online: %v", err)
		}
		if paid(b) {
			t.Fatal("a refused counter payment was recorded")
		}
		if _, _, err := sb.Pay(ctx, busy.ProviderRef, payment.Card{Number: "4242424242424242", ExpiryMonth: "12", ExpiryYear: "40", CVC: "123", Name: "Ana"}); err != nil {
			t.Fatal(err)
		}
		o, err := sb.Status(ctx, busy.ProviderRef)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pays.Settle(ctx, person, busy.ID, o); err != nil {
			t.Fatal(err)
		}
		_, err = cw.RecordPayment(e.ctx, fin, b.ID, 1000, "CASH-3")
		if !errors.As(err, &ref) || ref.Reason.Key != "case.reason.paid_online" {
			t.Fatalf("counter after paying online: %v", err)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
	})
}
