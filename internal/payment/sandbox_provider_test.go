package payment_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// sandboxFixture is the block with the sandbox provider registered and a
// person's checkout of two agencies' items, begun (the charge started).
func sandboxFixture(t *testing.T, db *storage.DB) (fixture, *payment.Sandbox, payment.Checkout) {
	t.Helper()
	f := newFixture(t, db)
	sb, err := payment.NewSandbox(db, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Register(sb)
	ctx := context.Background()
	c, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: twoItems()})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = f.svc.Begin(ctx, citizen, c.ID, "https://portico.example.gov/pay/checkouts/"+c.ID+"/return", "Portico payment"); err != nil {
		t.Fatal(err)
	}
	return f, sb, c
}

var citizen = platform.Actor{Kind: platform.ActorCitizen, ID: "acct-ana"}

func twoItems() []payment.Item {
	return []payment.Item{
		{Kind: payment.ItemCasePayment, Source: "7", Agency: "adams-clerk", Amount: 1000, Currency: "USD", Reference: "ADAMS-CLERK-2026-000001", DescriptionEN: "Dog license", DescriptionES: "Licencia de perro"},
		{Kind: payment.ItemObligation, Source: "0193aaaa-0000-7000-8000-000000000001", Agency: "adams-treasurer", Amount: 123550, Currency: "USD", Reference: "Parcel 01-234-567", DescriptionEN: "Property tax", DescriptionES: "Impuesto"},
	}
}

func goodCard(number string) payment.Card {
	return payment.Card{Number: number, ExpiryMonth: "12", ExpiryYear: "30", CVC: "123", Name: "Ana Citizen"}
}

// TestSandboxCards: each test card, typed on the test page, leaves the
// charge where GOV.UK Pay's would be, and the checkout settled from the
// provider's Status agrees; only a success posts to the ledger.
func TestSandboxCards(t *testing.T) {
	cases := []struct {
		name, number string
		approve      *bool // the authentication step's answer
		want         payment.Status
		code         string
	}{
		{"success", "4242 4242 4242 4242", nil, payment.Success, ""},
		{"declined", "4000 0000 0000 0002", nil, payment.Failed, payment.CodeRejected},
		{"expired card", "4000-0000-0000-0069", nil, payment.Failed, payment.CodeRejected},
		{"authentication approved", "4000002500003155", ptr(true), payment.Success, ""},
		{"authentication failed", "4000002500003155", ptr(false), payment.Failed, payment.CodeRejected},
		{"processing error", "4000000000000119", nil, payment.Error, payment.CodeProviderError},
		{"any other real-looking card is declined", "4111 1111 1111 1111", nil, payment.Failed, payment.CodeRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				f, sb, c := sandboxFixture(t, db)
				if c.State.Status != payment.Started || c.NextURL != payment.SandboxPage(c.ProviderRef) {
					t.Fatalf("begun: %+v", c)
				}
				if o, err := sb.Status(ctx, c.ProviderRef); err != nil || o.Status != payment.Started {
					t.Fatalf("before the payer: %+v %v", o, err)
				}
				ch, errs, err := sb.Pay(ctx, c.ProviderRef, goodCard(tc.number))
				if err != nil || len(errs) > 0 {
					t.Fatalf("pay: %v %v", errs, err)
				}
				if tc.approve != nil {
					if !ch.Challenge || ch.Status != payment.Submitted || ch.Finished() {
						t.Fatalf("no authentication step: %+v", ch)
					}
					if ch, err = sb.Authenticate(ctx, c.ProviderRef, *tc.approve); err != nil {
						t.Fatal(err)
					}
				}
				if ch.Status != tc.want || ch.Code != tc.code || !ch.Finished() {
					t.Fatalf("charge %+v, want %s %s", ch, tc.want, tc.code)
				}
				if ch.LastDigits == "" || len(ch.LastDigits) != 4 || ch.CardBrand == "" {
					t.Errorf("card not described: %+v", ch)
				}
				// A second submit (the back button) changes nothing.
				if again, _, err := sb.Pay(ctx, c.ProviderRef, goodCard("4242424242424242")); err != nil || again.Status != tc.want {
					t.Fatalf("second submit: %+v %v", again, err)
				}
				o, err := sb.Status(ctx, c.ProviderRef)
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.svc.Settle(ctx, citizen, c.ID, o)
				if err != nil || got.State.Status != tc.want || got.State.Code != tc.code {
					t.Fatalf("settled %+v %v", got.State, err)
				}
				var charges int
				if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM ledger_entries WHERE kind = 'charge'`).Scan(&charges); err != nil {
					t.Fatal(err)
				}
				if want := map[bool]int{true: 4, false: 0}[tc.want == payment.Success]; charges != want {
					t.Errorf("%d charge lines, want %d", charges, want)
				}
				if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
					t.Fatalf("ledger: %+v %v", rep, err)
				}
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestSandboxCardMistakes: what the payer typed wrong comes back as
// field errors and the charge waits.
func TestSandboxCardMistakes(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		card  payment.Card
		field string
		key   string
	}{
		{"no number", payment.Card{ExpiryMonth: "1", ExpiryYear: "2030", CVC: "123", Name: "A"}, payment.FieldNumber, "payment.sandbox.error.number.missing"},
		{"not a card number", payment.Card{Number: "4242 4242 4242 4241", ExpiryMonth: "1", ExpiryYear: "30", CVC: "123", Name: "A"}, payment.FieldNumber, "payment.sandbox.error.number.invalid"},
		{"month 13", payment.Card{Number: "4242424242424242", ExpiryMonth: "13", ExpiryYear: "30", CVC: "123", Name: "A"}, payment.FieldExpiryMonth, "payment.sandbox.error.expiry.month"},
		{"year 3 digits", payment.Card{Number: "4242424242424242", ExpiryMonth: "1", ExpiryYear: "203", CVC: "123", Name: "A"}, payment.FieldExpiryYear, "payment.sandbox.error.expiry.year"},
		{"expired last month", payment.Card{Number: "4242424242424242", ExpiryMonth: "11", ExpiryYear: "26", CVC: "123", Name: "A"}, payment.FieldExpiryMonth, "payment.sandbox.error.expiry.past"},
		{"cvc letters", payment.Card{Number: "4242424242424242", ExpiryMonth: "12", ExpiryYear: "26", CVC: "12a", Name: "A"}, payment.FieldCVC, "payment.sandbox.error.cvc.invalid"},
		{"no name", payment.Card{Number: "4242424242424242", ExpiryMonth: "12", ExpiryYear: "2026", CVC: "1234"}, payment.FieldName, "payment.sandbox.error.name.missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := payment.CheckCard(tc.card, now)
			if len(errs) != 1 || errs[tc.field] != tc.key {
				t.Errorf("errors %v, want %s: %s", errs, tc.field, tc.key)
			}
		})
	}
	if errs := payment.CheckCard(goodCard("4242424242424242"), now); len(errs) != 0 {
		t.Errorf("a good card: %v", errs)
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		_, sb, c := sandboxFixture(t, db)
		ch, errs, err := sb.Pay(ctx, c.ProviderRef, payment.Card{Number: "4242"})
		if err != nil || len(errs) != 5 || ch.Status != payment.Started {
			t.Fatalf("%+v %v %v", ch, errs, err)
		}
		if _, err := sb.Charge(ctx, "sbx_nonsense"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("unknown ref: %v", err)
		}
	})
}

// TestSandboxCancelRefundCapture: the payer's cancel link fails the
// charge with P0030 and releases the items for another checkout; a
// refund succeeds at once within what is left and is idempotent by key;
// a cancel of a finished charge is a conflict.
func TestSandboxCancelRefundCapture(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sb, c := sandboxFixture(t, db)
		// The same items cannot be opened again while the checkout is
		// unfinished.
		if _, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: twoItems()[:1]}); !errors.Is(err, payment.ErrAlreadyPaying) {
			t.Fatalf("a claimed item opened again: %v", err)
		}
		ch, err := sb.Abandon(ctx, c.ProviderRef)
		if err != nil || ch.Status != payment.Failed || ch.Code != payment.CodeCancelledByUser {
			t.Fatalf("abandon: %+v %v", ch, err)
		}
		o, _ := sb.Status(ctx, c.ProviderRef)
		if got, err := f.svc.Settle(ctx, citizen, c.ID, o); err != nil || got.State.Code != payment.CodeCancelledByUser {
			t.Fatalf("settle: %+v %v", got.State, err)
		}
		if err := sb.Cancel(ctx, c.ProviderRef); platform.ErrorCode(err) != platform.CodeConflict {
			t.Errorf("cancel of a failed charge: %v", err)
		}
		// Released: a new checkout pays them, with the success card.
		c2, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: twoItems()})
		if err != nil {
			t.Fatal(err)
		}
		if c2, err = f.svc.Begin(ctx, citizen, c2.ID, "https://portico.example.gov/r", "Portico payment"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sb.Pay(ctx, c2.ProviderRef, goodCard("4242424242424242")); err != nil {
			t.Fatal(err)
		}
		claims, err := f.svc.ClaimsOf(ctx, citizen.ID)
		if err != nil || len(claims) != 2 || claims[0].Checkout != c2.ID {
			t.Fatalf("claims %+v %v", claims, err)
		}
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = sb.Refund(ctx, c2.ProviderRef, 100000, "USD", "refund-1")
			}()
		}
		wg.Wait()
		for _, err := range results {
			if err != nil {
				t.Fatalf("the same refund twice: %v", err)
			}
		}
		if _, err := sb.Refund(ctx, c2.ProviderRef, 24551, "USD", "refund-2"); !errors.Is(err, payment.ErrRefundTooLarge) {
			t.Fatalf("over-refund: %v", err)
		}
		if _, err := sb.Refund(ctx, c2.ProviderRef, 24550, "USD", "refund-3"); err != nil {
			t.Fatalf("the rest: %v", err)
		}
		ch, _ = sb.Charge(ctx, c2.ProviderRef)
		if ch.Refunded != 124550 {
			t.Errorf("refunded %d", ch.Refunded)
		}
		if err := sb.Capture(ctx, c2.ProviderRef); err != nil {
			t.Errorf("capture of a success: %v", err)
		}
	})
}

// TestOpenCheckoutRace: many checkouts opened at once for the same item:
// exactly one holds it (on PostgreSQL the racing transactions really
// overlap).
func TestOpenCheckoutRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: twoItems()})
			}()
		}
		wg.Wait()
		opened := 0
		for _, err := range errs {
			switch {
			case err == nil:
				opened++
			case errors.Is(err, payment.ErrAlreadyPaying):
			default:
				t.Errorf("unexpected: %v", err)
			}
		}
		var checkouts int
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM checkouts`).Scan(&checkouts); err != nil {
			t.Fatal(err)
		}
		if opened != 1 || checkouts != 1 {
			t.Fatalf("%d opened, %d checkouts stored", opened, checkouts)
		}
	})
}

// TestSettleDue: the sweep settles a checkout whose return page was never
// visited from the provider's truth, leaves a fresh one alone, and fails
// an expired one with P0020 (all its payments with it) after cancelling
// it at the provider, so its page no longer takes a card.
func TestSettleDue(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sb, paid := sandboxFixture(t, db)
		if _, _, err := sb.Pay(ctx, paid.ProviderRef, goodCard("4242424242424242")); err != nil {
			t.Fatal(err)
		}
		other := twoItems()
		other[0].Source, other[1].Source = "8", "0193aaaa-0000-7000-8000-000000000002"
		idle, err := f.svc.Open(ctx, citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: other})
		if err != nil {
			t.Fatal(err)
		}
		if idle, err = f.svc.Begin(ctx, citizen, idle.ID, "https://portico.example.gov/r", "Portico payment"); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.SettleDue(ctx, citizen); err != nil || n != 0 {
			t.Fatalf("too early: %d %v", n, err)
		}
		f.clock.Advance(payment.SettleAfter)
		if n, err := f.svc.SettleDue(ctx, citizen); err != nil || n != 1 {
			t.Fatalf("after %v: %d %v", payment.SettleAfter, n, err)
		}
		if got, _ := f.svc.Checkout(ctx, paid.ID); got.State.Status != payment.Success || got.LastDigits != "4242" {
			t.Fatalf("paid checkout: %+v", got.State)
		}
		if got, _ := f.svc.Checkout(ctx, idle.ID); got.State.Status != payment.Started {
			t.Fatalf("idle checkout: %+v", got.State)
		}
		f.clock.Advance(payment.Expiry)
		if n, err := f.svc.SettleDue(ctx, citizen); err != nil || n != 1 {
			t.Fatalf("at expiry: %d %v", n, err)
		}
		got, _ := f.svc.Checkout(ctx, idle.ID)
		if got.State.Status != payment.Failed || got.State.Code != payment.CodeExpired {
			t.Fatalf("expired checkout: %+v", got.State)
		}
		for _, id := range got.Payments {
			var st, code string
			if err := db.Read().QueryRowContext(ctx, `SELECT status, code FROM payments WHERE id = $1`, id).Scan(&st, &code); err != nil || st != "failed" || code != payment.CodeExpired {
				t.Errorf("payment %s: %s %s %v", id, st, code, err)
			}
		}
		if ch, _, err := sb.Pay(ctx, idle.ProviderRef, goodCard("4242424242424242")); err != nil || ch.Status != payment.Cancelled {
			t.Fatalf("the expired charge took a card: %+v %v", ch, err)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
	})
}

// FuzzCheckCard: whatever a payer types on the test page, CheckCard
// answers without panicking, names only the page's fields with catalogue
// keys, and a card it accepts is one SandboxCard decides.
func FuzzCheckCard(f *testing.F) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	f.Add("4242 4242 4242 4242", "12", "30", "123", "Ana Citizen")
	f.Add("4000-0025-0000-3155", "1", "2027", "1234", "Beto")
	f.Add("", "", "", "", "")
	f.Add("٤٢٤٢", "１２", "-1", "12a", "\x00")
	f.Fuzz(func(t *testing.T, number, month, year, cvc, name string) {
		errs := payment.CheckCard(payment.Card{Number: number, ExpiryMonth: month, ExpiryYear: year, CVC: cvc, Name: name}, now)
		for field, key := range errs {
			if !slices.Contains(payment.CardFields, field) || !strings.HasPrefix(key, "payment.sandbox.error.") {
				t.Fatalf("error %s: %s", field, key)
			}
		}
		if len(errs) == 0 {
			if _, ok := payment.SandboxCard(number); !ok {
				t.Fatalf("accepted a number the sandbox cannot decide: %q", number)
			}
		}
	})
}
