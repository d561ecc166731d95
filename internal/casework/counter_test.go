package casework_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
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

// onlineEnv is newEnv with the payment block and its sandbox on the same
// database and a casework block wired to it by deps (the counter's claims,
// the refund of a fee paid twice), as internal/app wires them.
func onlineEnv(t *testing.T, db *storage.DB, deps func(*payment.Service) casework.Deps) (*env, *casework.Service, *payment.Service, *payment.Sandbox) {
	t.Helper()
	e := newEnv(t, db)
	log, bus := audit.New(db, e.clock, nil), events.NewBus(e.clock)
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pays, err := payment.NewService(db, log, bus, e.clock, payment.WithJobs(ins, jobs.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := payment.NewSandbox(db, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	pays.Register(sb)
	d := deps(pays)
	d.Runtimes, d.Citizens, d.Mailer, d.People = e.cat, citizens{manifest.Person{Age: 40, Language: "en"}}, e.mailer, people{}
	cw, err := casework.New(db, log, bus, e.clock, d)
	if err != nil {
		t.Fatal(err)
	}
	e.ctx = platform.WithActor(e.ctx, platform.Actor{Kind: platform.ActorCitizen, ID: "acct-1"})
	return e, cw, pays, sb
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
		e, cw, pays, sb := onlineEnv(t, db, func(p *payment.Service) casework.Deps { return casework.Deps{Counter: counterClaims{p}} })
		person := platform.ActorFrom(e.ctx)
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

// duplicateRefunds is internal/app's adapter of the payment block.
type duplicateRefunds struct{ p *payment.Service }

func (d duplicateRefunds) RefundDuplicate(ctx context.Context, tx *sql.Tx, paymentID string, feeID, amount int64, reason string) error {
	_, err := d.p.RefundDuplicate(ctx, tx, paymentID, "case_payment:"+strconv.FormatInt(feeID, 10), amount, reason)
	var rp *payment.RefundProblem
	if errors.As(err, &rp) {
		return casework.ErrNothingToRefund
	}
	return err
}

type paidFees struct{ p *payment.Service }

func (f paidFees) PaidFees(ctx context.Context, id string) ([]casework.PaidFee, error) {
	items, err := f.p.PaidItems(ctx, id)
	var out []casework.PaidFee
	for _, it := range items {
		n, _ := strconv.ParseInt(it.Source, 10, 64)
		out = append(out, casework.PaidFee{FeeID: n, Amount: it.Amount, Currency: it.Currency, PaymentID: it.PaymentID})
	}
	return out, err
}

// TestPaidTwiceIsRefunded: where the race is inherent (the card taken
// online while the counter records the fee without seeing the claim), the
// consumer that records the online payment finds the fee already paid,
// refunds the online payment's share automatically (once, however often
// the event is delivered or emitted), with a reason finance reads on the
// payment, and says so on the staff timeline; the books balance.
func TestPaidTwiceIsRefunded(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		// The counter without claims: the race this test is about.
		e, cw, pays, sb := onlineEnv(t, db, func(p *payment.Service) casework.Deps { return casework.Deps{Duplicates: duplicateRefunds{p}} })
		ctx := context.Background()
		person := platform.ActorFrom(e.ctx)
		c := e.open("d1", "adams-dog-licence", dogAnswers)
		fees, err := cw.Payments(ctx, c.ID)
		if err != nil || len(fees) != 1 {
			t.Fatalf("fees %+v %v", fees, err)
		}
		k, err := pays.Open(ctx, person, payment.OpenCheckout{Account: person.ID, ReturnURL: "https://portico.example.gov/pay", Items: []payment.Item{
			{Kind: payment.ItemCasePayment, Source: strconv.FormatInt(fees[0].ID, 10), Agency: c.AgencyID, Amount: 1000, Currency: "USD",
				Reference: c.Reference, DescriptionEN: "Dog license", DescriptionES: "Licencia de perro"}}})
		if err != nil {
			t.Fatal(err)
		}
		if k, err = pays.Begin(ctx, person, k.ID, "https://portico.example.gov/r", "Adams"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sb.Pay(ctx, k.ProviderRef, payment.Card{Number: "4242424242424242", ExpiryMonth: "12", ExpiryYear: "40", CVC: "123", Name: "Ana"}); err != nil {
			t.Fatal(err)
		}
		if _, err := cw.RecordPayment(e.ctx, principals(c.AgencyID)["finance"], c.ID, 1000, "CASH-9"); err != nil {
			t.Fatal(err)
		}
		o, _ := sb.Status(ctx, k.ProviderRef)
		if _, err := pays.Settle(ctx, person, k.ID, o); err != nil {
			t.Fatal(err)
		}
		consumer := cw.PaymentConsumer(paidFees{pays})
		data := []byte(`{"payment_id":"` + k.Payments[0] + `"}`)
		for _, id := range []string{"evt-1", "evt-1", "evt-2"} {
			if err := consumer.Handle(ctx, events.Event{ID: id, Type: casework.EventPaymentSucceeded, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		refunds, err := pays.Refunds(ctx, c.AgencyID, k.Payments[0])
		if err != nil || len(refunds) != 1 {
			t.Fatalf("refunds %+v %v, want one", refunds, err)
		}
		if r := refunds[0]; r.Amount != 1000 || r.Status != payment.RefundSubmitted || !strings.Contains(r.Reason, "Paid twice") || !strings.Contains(r.Reason, "CASH-9") {
			t.Fatalf("refund %+v", r)
		}
		if st, err := pays.CompleteRefund(ctx, refunds[0].ID); err != nil || st != payment.RefundSuccess {
			t.Fatalf("the refund job: %s %v", st, err)
		}
		if n := e.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.payment.duplicate'`); n != 2 {
			t.Errorf("%d duplicate audit entries, want one per event handled (2)", n)
		}
		if fees, _ := cw.Payments(ctx, c.ID); fees[0].PaidRef != "CASH-9" {
			t.Errorf("the counter's record was changed: %+v", fees[0])
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
	})
}
