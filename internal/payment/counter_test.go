package payment_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// counterNow is a provider whose Start lets the counter record the
// checkout's fee while the provider is being asked: the race of a payer
// starting to pay with a caseworker taking the fee at the counter.
type counterNow struct {
	payment.Provider
	counter func()
}

func (c counterNow) Start(ctx context.Context, ch payment.Charge) (payment.Begun, error) {
	b, err := c.Provider.Start(ctx, ch)
	c.counter()
	return b, err
}

// TestClaimForCounter: what the counter may take, by who holds the item:
// nobody (taken), a checkout not begun (cancelled whole, P0040, and
// taken), a begun one (ErrPayingOnline), a paid one (ErrPaidOnline), the
// counter (ErrPaidAtCounter); a refusal takes nothing. A checkout the
// counter cancels while its Begin is asking the provider is not begun,
// and its charge is cancelled at the provider, so the payer can never
// pay it. On SQLite and PostgreSQL.
func TestClaimForCounter(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sb, begun := sandboxFixture(t, db) // twoItems, begun
		counter := func(kind, source string) error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				return f.svc.ClaimForCounter(ctx, tx, kind, []string{source}, "staff:fin-1")
			})
		}
		items := twoItems()
		if err := counter(payment.ItemCasePayment, items[0].Source); !errors.Is(err, payment.ErrPayingOnline) {
			t.Fatalf("begun: %v", err)
		}
		if err := counter(payment.ItemCasePayment, "99"); err != nil {
			t.Fatalf("unclaimed: %v", err)
		}
		if err := counter(payment.ItemCasePayment, "99"); !errors.Is(err, payment.ErrPaidAtCounter) {
			t.Fatalf("twice at the counter: %v", err)
		}
		if _, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay",
			Items: []payment.Item{{Kind: payment.ItemCasePayment, Source: "99", Agency: "adams-clerk", Amount: 500, Currency: "USD", Reference: "REF-1", DescriptionEN: "Fee", DescriptionES: "Tarifa"}}}); !errors.Is(err, payment.ErrAlreadyPaying) {
			t.Fatalf("a checkout of a fee paid at the counter: %v", err)
		}
		if _, _, err := sb.Pay(ctx, begun.ProviderRef, goodCard("4242424242424242")); err != nil {
			t.Fatal(err)
		}
		o, _ := sb.Status(ctx, begun.ProviderRef)
		if _, err := f.svc.Settle(ctx, citizen, begun.ID, o); err != nil {
			t.Fatal(err)
		}
		if err := counter(payment.ItemObligation, items[1].Source); !errors.Is(err, payment.ErrPaidOnline) {
			t.Fatalf("paid: %v", err)
		}

		// Not begun: cancelled whole; the other item is free again.
		other := []payment.Item{
			{Kind: payment.ItemCasePayment, Source: "21", Agency: "adams-clerk", Amount: 700, Currency: "USD", Reference: "REF-1", DescriptionEN: "Fee", DescriptionES: "Tarifa"},
			{Kind: payment.ItemObligation, Source: "ob-21", Agency: "adams-treasurer", Amount: 900, Currency: "USD", Reference: "REF-1", DescriptionEN: "Fee", DescriptionES: "Tarifa"},
		}
		idle, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: other})
		if err != nil {
			t.Fatal(err)
		}
		if err := counter(payment.ItemCasePayment, "21"); err != nil {
			t.Fatalf("idle: %v", err)
		}
		if c, _ := f.svc.Checkout(ctx, idle.ID); c.State.Status != payment.Cancelled || c.State.Code != payment.CodeCancelledBySystem {
			t.Fatalf("idle checkout %+v", c.State)
		}
		if err := counter(payment.ItemObligation, "ob-21"); err != nil {
			t.Fatalf("the cancelled checkout's other item: %v", err)
		}

		// The counter takes the fee while Begin asks the provider.
		racing, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay",
			Items: []payment.Item{{Kind: payment.ItemCasePayment, Source: "31", Agency: "adams-clerk", Amount: 300, Currency: "USD", Reference: "REF-1", DescriptionEN: "Fee", DescriptionES: "Tarifa"}}})
		if err != nil {
			t.Fatal(err)
		}
		f.svc.Register(counterNow{Provider: sb, counter: func() {
			if err := counter(payment.ItemCasePayment, "31"); err != nil {
				t.Errorf("counter during Begin: %v", err)
			}
		}})
		c, err := f.svc.Begin(ctx, citizen, racing.ID, "https://portico.example.gov/r", "Adams")
		if err != nil || c.ProviderRef != "" || c.State.Status != payment.Cancelled {
			t.Fatalf("begun after the counter took it: %+v %v", c, err)
		}
		ref, err := sb.Find(ctx, racing.ID)
		if err != nil || ref == "" {
			t.Fatalf("find %q %v", ref, err)
		}
		if ch, _, err := sb.Pay(ctx, ref, goodCard("4242424242424242")); err != nil || ch.Status != payment.Cancelled {
			t.Fatalf("the payer could pay a checkout the counter took: %+v %v", ch, err)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
	})
}
