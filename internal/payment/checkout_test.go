package payment_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestCheckoutSplitsByAgency: two agencies' items in one checkout make
// one payment per agency; a provider's success settles both, each posted
// to its own agency's books; settling again (a late webhook after the
// return page) changes nothing, and the books balance.
func TestCheckoutSplitsByAgency(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		items := []payment.Item{
			{Kind: payment.ItemCasePayment, Source: "11", Agency: "dmv", Amount: 4500, Currency: "USD", Reference: "DMV-1", DescriptionEN: "Renewal", DescriptionES: "Renovación"},
			{Kind: payment.ItemObligation, Source: "ob-1", Agency: "adams-treasurer", Amount: 61250, Currency: "USD", Reference: "PARCEL-9", DescriptionEN: "Tax", DescriptionES: "Impuesto"},
			{Kind: payment.ItemObligation, Source: "ob-2", Agency: "adams-treasurer", Amount: 100, Currency: "USD", DescriptionEN: "Fee", DescriptionES: "Tarifa"},
		}
		var c payment.Checkout
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			c, err = f.svc.OpenCheckout(ctx, tx, agencySystem, payment.OpenCheckout{Account: "acct-1", Items: items, ReturnURL: "https://portico.example.gov/pay"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if c.Amount != 65850 || len(c.Payments) != 2 {
			t.Fatalf("checkout %+v", c)
		}
		got, err := f.svc.Checkout(ctx, c.ID)
		if err != nil || len(got.Items) != 3 || len(got.Payments) != 2 || got.State.Status != payment.Created {
			t.Fatalf("read back %+v %v", got, err)
		}
		for _, o := range []payment.Outcome{{Status: payment.Success, CardBrand: "visa", LastDigits: "4242"}, {Status: payment.Success}, {Status: payment.Submitted}} {
			got, err = f.svc.Settle(ctx, agencySystem, c.ID, o)
			if err != nil {
				t.Fatal(err)
			}
		}
		if got.State.Status != payment.Success || got.LastDigits != "4242" || got.CardBrand != "visa" {
			t.Fatalf("settled %+v", got)
		}
		want := map[string]int64{"dmv": 4500, "adams-treasurer": 61350}
		for _, id := range got.Payments {
			var agency, status string
			var amount int64
			if err := db.Read().QueryRowContext(ctx, `SELECT agency_id, status, amount FROM payments WHERE id = $1`, id).Scan(&agency, &status, &amount); err != nil {
				t.Fatal(err)
			}
			if status != "success" || want[agency] != amount {
				t.Errorf("payment %s: %s %s %d", id, agency, status, amount)
			}
			var steps int
			if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM payment_events WHERE payment_id = $1`, id).Scan(&steps); err != nil || steps != 4 {
				t.Errorf("payment %s history: %d steps (created, started, submitted, success), %v", id, steps, err)
			}
		}
		rep, err := payment.Check(ctx, db)
		if err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
		// A failure after success is a contradiction the caller hears of
		// only if the checkout could still move; a finished one stays.
		if got, err = f.svc.Settle(ctx, agencySystem, c.ID, payment.Outcome{Status: payment.Failed, Code: payment.CodeRejected}); err != nil || got.State.Status != payment.Success {
			t.Fatalf("a late failure moved a success: %+v %v", got, err)
		}
	})
}

// TestCheckoutForAnAgencyPayment: an agency's own payment is a checkout
// of one payment with the agency's fields as they are.
func TestCheckoutForAnAgencyPayment(t *testing.T) {
	f := newFixture(t, storagetest.Open(t, storage.SQLite))
	ctx := context.Background()
	n := ok("dmv", 1200)
	var c payment.Checkout
	if err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = f.svc.OpenCheckout(ctx, tx, agencySystem, payment.OpenCheckout{Payment: &n})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Get(ctx, "dmv", c.Payments[0])
	if err != nil || p.Reference != n.Reference || p.Checkout != c.ID || p.Amount != 1200 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := f.svc.Settle(ctx, agencySystem, c.ID, payment.Outcome{Status: payment.Failed, Code: payment.CodeRejected}); err != nil {
		t.Fatal(err)
	}
	if p, _ = f.svc.Get(ctx, "dmv", p.ID); p.State.Status != payment.Failed || p.State.Code != payment.CodeRejected {
		t.Fatalf("%+v", p.State)
	}
}

// TestCheckoutExpiry (what the per-payment expiry's test asked, now of
// checkouts, the only expiry): an unfinished checkout (created and never
// begun, started, submitted while the test authentication waits) fails
// with P0020 "Payment expired", finished, with every payment, at Expiry
// and not a second before; a paid one is left as it is.
func TestCheckoutExpiry(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		sb, err := payment.NewSandbox(db, f.clock)
		if err != nil {
			t.Fatal(err)
		}
		f.svc.Register(sb)
		open := func(n int, begin bool, card string) payment.Checkout {
			c, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: []payment.Item{
				{Kind: payment.ItemCasePayment, Source: fmt.Sprint(100 + n), Agency: "adams-clerk", Amount: 500, Currency: "USD", Reference: "R", DescriptionEN: "Fee", DescriptionES: "Tarifa"},
				{Kind: payment.ItemObligation, Source: fmt.Sprint("ob-", n), Agency: "adams-treasurer", Amount: 700, Currency: "USD", Reference: "P", DescriptionEN: "Tax", DescriptionES: "Impuesto"}}})
			if err != nil {
				t.Fatal(err)
			}
			if begin {
				if c, err = f.svc.Begin(ctx, citizen, c.ID, "https://portico.example.gov/r", "Adams"); err != nil {
					t.Fatal(err)
				}
			}
			if card != "" {
				if _, _, err := sb.Pay(ctx, c.ProviderRef, goodCard(card)); err != nil {
					t.Fatal(err)
				}
			}
			return c
		}
		created, started, submitted, paid := open(1, false, ""), open(2, true, ""), open(3, true, "4000002500003155"), open(4, true, "4242424242424242")
		state := func(c payment.Checkout) payment.State {
			got, err := f.svc.Checkout(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range got.Payments {
				var st, code string
				if err := db.Read().QueryRowContext(ctx, `SELECT status, code FROM payments WHERE id = $1`, id).Scan(&st, &code); err != nil {
					t.Fatal(err)
				}
				if payment.Status(st) != got.State.Status || code != got.State.Code {
					t.Errorf("payment %s is %s %s, its checkout %s %s", id, st, code, got.State.Status, got.State.Code)
				}
			}
			return got.State
		}
		f.clock.Advance(payment.Expiry - time.Second)
		if _, err := f.svc.SettleDue(ctx, citizen); err != nil {
			t.Fatal(err)
		}
		for c, want := range map[*payment.Checkout]payment.Status{&created: payment.Created, &started: payment.Started, &submitted: payment.Submitted, &paid: payment.Success} {
			if got := state(*c); got.Status != want || got.Finished != (want == payment.Success) {
				t.Errorf("a second before expiry: %+v, want %s", got, want)
			}
		}
		f.clock.Advance(time.Second)
		if n, err := f.svc.SettleDue(ctx, citizen); err != nil || n != 3 {
			t.Fatalf("at expiry: %d %v", n, err)
		}
		for _, c := range []payment.Checkout{created, started, submitted} {
			if got := state(c); got.Status != payment.Failed || got.Code != payment.CodeExpired || got.Message != "Payment expired" || !got.Finished {
				t.Errorf("expired: %+v", got)
			}
		}
		if got := state(paid); got.Status != payment.Success {
			t.Errorf("a paid checkout expired: %+v", got)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
	})
}
