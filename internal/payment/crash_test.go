package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/paycrash"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// crashRig is the payment block with the sandbox on one database, as one
// process of Portico has it: the parent's before the child and after the
// restart, or the child's, whose sandbox is wrapped in a Killer.
type crashRig struct {
	t        *testing.T
	db       *storage.DB
	svc      *payment.Service
	sb       *payment.Sandbox
	clock    *platform.FakeClock
	checkout string
	refund   string
}

func newCrashRig(t *testing.T, db *storage.DB, now time.Time, point string) *crashRig {
	t.Helper()
	clock := platform.NewFakeClock(now)
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := payment.NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock, payment.WithJobs(ins, jobs.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := payment.NewSandbox(db, clock)
	if err != nil {
		t.Fatal(err)
	}
	if point != "" {
		svc.Register(paycrash.Killer{Provider: sb, Point: point})
	} else {
		svc.Register(sb)
	}
	return &crashRig{t: t, db: db, svc: svc, sb: sb, clock: clock}
}

var crashReturn = "https://portico.example.gov/pay/return"

func (r *crashRig) open() {
	c, err := r.svc.Open(context.Background(), citizen, payment.OpenCheckout{Account: citizen.ID, ReturnURL: "https://portico.example.gov/pay", Items: twoItems()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.checkout = c.ID
}

func (r *crashRig) begin() payment.Checkout {
	c, err := r.svc.Begin(context.Background(), citizen, r.checkout, crashReturn, "Adams County")
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// pay is the payer typing a good card on the sandbox's page.
func (r *crashRig) pay() {
	c := r.begin()
	if ch, _, err := r.sb.Pay(context.Background(), c.ProviderRef, goodCard("4242424242424242")); err != nil || ch.Status != payment.Success {
		r.t.Fatalf("pay: %+v %v", ch, err)
	}
}

// back is the return page: the charge's state read and settled.
func (r *crashRig) back() {
	ctx := context.Background()
	c, err := r.svc.Checkout(ctx, r.checkout)
	if err != nil {
		r.t.Fatal(err)
	}
	p, err := r.svc.Provider(c.Provider)
	if err != nil {
		r.t.Fatal(err)
	}
	o, err := p.Status(ctx, c.ProviderRef)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.svc.Settle(ctx, citizen, r.checkout, o); err != nil {
		r.t.Fatal(err)
	}
}

func (r *crashRig) sweep() {
	if _, err := r.svc.SettleDue(context.Background(), citizen); err != nil {
		r.t.Fatal(err)
	}
}

func (r *crashRig) askRefund() {
	c, err := r.svc.Checkout(context.Background(), r.checkout)
	if err != nil {
		r.t.Fatal(err)
	}
	ref, err := r.svc.Refund(context.Background(), agencySystem, "adams-treasurer", c.Payments[1], 50000, -1, "Paid at the counter too")
	if err != nil {
		r.t.Fatal(err)
	}
	r.refund = ref.ID
}

// completeRefund is the refund job's run (its retry after the restart).
func (r *crashRig) completeRefund() {
	if st, err := r.svc.CompleteRefund(context.Background(), r.refund); err != nil || st != payment.RefundSuccess {
		r.t.Fatalf("refund: %s %v", st, err)
	}
}

func (r *crashRig) status() payment.State {
	c, err := r.svc.Checkout(context.Background(), r.checkout)
	if err != nil {
		r.t.Fatal(err)
	}
	return c.State
}

// sandboxTruth is what the sandbox holds for a checkout.
func sandboxTruth(t *testing.T, db *storage.DB) func(string) paycrash.Truth {
	return func(checkout string) paycrash.Truth {
		var tr paycrash.Truth
		ctx := context.Background()
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(status), ''), COALESCE(SUM(refunded), 0) FROM sandbox_charges WHERE checkout_id = $1`, checkout).
			Scan(&tr.Charges, &tr.Status, &tr.Refunded); err != nil {
			t.Fatal(err)
		}
		if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM sandbox_refunds r JOIN sandbox_charges c ON c.ref = r.ref WHERE c.checkout_id = $1`, checkout).
			Scan(&tr.Refunds); err != nil {
			t.Fatal(err)
		}
		return tr
	}
}

// crashStep is one place a payment is killed: what the parent does
// before (prepare), the step the child dies in (step, with its provider
// dying at point), what a restarted Portico does (recover), and where
// the checkout must end.
type crashStep struct {
	name     string
	point    string
	prepare  func(r *crashRig)
	step     func(r *crashRig)
	recover  func(r *crashRig)
	want     payment.Status
	code     string
	refunded int64
}

var sandboxCrashSteps = []crashStep{
	{name: "begin before the provider is asked", point: paycrash.BeforeStart,
		prepare: (*crashRig).open, step: func(r *crashRig) { r.begin() },
		recover: func(r *crashRig) { r.pay(); r.back() }, want: payment.Success},
	{name: "begin after the provider made the charge", point: paycrash.AfterStart,
		prepare: (*crashRig).open, step: func(r *crashRig) { r.begin() },
		recover: func(r *crashRig) { r.pay(); r.back() }, want: payment.Success},
	{name: "begin after the provider made the charge, payer gone", point: paycrash.AfterStart,
		prepare: (*crashRig).open, step: func(r *crashRig) { r.begin() },
		recover: func(r *crashRig) { r.clock.Advance(payment.Expiry); r.sweep() }, want: payment.Failed, code: payment.CodeExpired},
	{name: "return page read the payment, not recorded", point: paycrash.AfterStatus,
		prepare: func(r *crashRig) { r.open(); r.pay() }, step: (*crashRig).back,
		recover: func(r *crashRig) { r.clock.Advance(payment.SettleAfter); r.sweep() }, want: payment.Success},
	{name: "return page recorded the payment, not answered", point: "",
		prepare: func(r *crashRig) { r.open(); r.pay() }, step: func(r *crashRig) { r.back(); paycrash.Die() },
		recover: func(r *crashRig) { r.back(); r.clock.Advance(payment.SettleAfter); r.sweep() }, want: payment.Success},
	{name: "sweep read the payment, not recorded", point: paycrash.AfterStatus,
		prepare: func(r *crashRig) { r.open(); r.pay(); r.clock.Advance(payment.SettleAfter) }, step: (*crashRig).sweep,
		recover: (*crashRig).sweep, want: payment.Success},
	{name: "sweep cancelled an expired charge, not recorded", point: paycrash.AfterCancel,
		prepare: func(r *crashRig) { r.open(); r.begin(); r.clock.Advance(payment.Expiry) }, step: (*crashRig).sweep,
		recover: (*crashRig).sweep, want: payment.Failed, code: payment.CodeExpired},
	{name: "refund before the provider is asked", point: paycrash.BeforeRefund,
		prepare: func(r *crashRig) { r.open(); r.pay(); r.back(); r.askRefund() }, step: (*crashRig).completeRefund,
		recover: (*crashRig).completeRefund, want: payment.Success, refunded: 50000},
	{name: "refund after the provider refunded", point: paycrash.AfterRefund,
		prepare: func(r *crashRig) { r.open(); r.pay(); r.back(); r.askRefund() }, step: (*crashRig).completeRefund,
		recover: (*crashRig).completeRefund, want: payment.Success, refunded: 50000},
}

// TestPaymentCrashChild is the child of TestPaymentSurvivesCrash: it
// does one step of a payment on the parent's database and dies at the
// step's point. It does nothing in a normal run.
func TestPaymentCrashChild(t *testing.T) {
	name, db, now := paycrash.Step(t)
	for _, st := range sandboxCrashSteps {
		if st.name != name {
			continue
		}
		r := newCrashRig(t, db, now, st.point)
		if err := db.Read().QueryRowContext(context.Background(), `SELECT id FROM checkouts`).Scan(&r.checkout); err != nil {
			t.Fatal(err)
		}
		_ = db.Read().QueryRowContext(context.Background(), `SELECT id FROM payment_refunds`).Scan(&r.refund)
		st.step(r)
		t.Fatalf("%s: the step finished without dying at %q", name, st.point)
	}
	t.Fatalf("no crash step %q", name)
}

// TestPaymentSurvivesCrash kills Portico at each step of a sandbox
// payment (before and after the provider is asked for the charge, after
// the payer paid and before and after it is recorded, in the settle
// sweep, before and after the provider refunds) and restarts it on the
// same database: after the payer tries again, the sweep and the refund
// job's retry, every checkout is where the sandbox says, no item is paid
// twice, the sandbox made one charge and one refund, and the books
// balance (paycrash.Verify), on SQLite and PostgreSQL.
func TestPaymentSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts child processes")
	}
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			for _, st := range sandboxCrashSteps {
				t.Run(st.name, func(t *testing.T) {
					u, db := paycrash.Database(t, d)
					r := newCrashRig(t, db, start, "")
					st.prepare(r)
					paycrash.Child(t, "TestPaymentCrashChild", st.name, u, r.clock.Now())
					// The restarted process: a new block on the same database.
					again := newCrashRig(t, db, r.clock.Now(), "")
					again.checkout, again.refund = r.checkout, r.refund
					st.recover(again)
					if got := again.status(); got.Status != st.want || got.Code != st.code {
						t.Errorf("checkout %s %s, want %s %s", got.Status, got.Code, st.want, st.code)
					}
					tr := sandboxTruth(t, db)(r.checkout)
					if tr.Refunded != st.refunded {
						t.Errorf("the sandbox refunded %d, want %d", tr.Refunded, st.refunded)
					}
					paycrash.Verify(t, db, sandboxTruth(t, db))
				})
			}
		})
	}
}
