package payment_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// psp is a payment service provider on the other side of the Provider
// interface, as the refund core needs one to be: it keeps what each
// charge took and has refunded, refunds once per key, refuses to refund
// more than a charge took, and can be told to be down or to take its
// time. (The sandbox provider, built beside this, is the block's own; the
// refund core must work with any provider, so it is tested against the
// interface's contract.)
type psp struct {
	mu       sync.Mutex
	taken    map[string]int64 // charge ref → amount
	refunded map[string]int64 // charge ref → amount refunded
	byKey    map[string]payment.RefundOutcome
	calls    int
	mode     string // "" answers at once; "down" is unavailable; "slow" answers submitted; "refuse" says error
}

func newPSP() *psp {
	return &psp{taken: map[string]int64{}, refunded: map[string]int64{}, byKey: map[string]payment.RefundOutcome{}}
}

func (p *psp) Name() string { return "testpsp" }

func (p *psp) Start(_ context.Context, c payment.Charge) (payment.Begun, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ref := "ch_" + c.Checkout
	p.taken[ref] = c.Amount
	return payment.Begun{Ref: ref, NextURL: "https://psp.example/" + ref}, nil
}

func (p *psp) Status(context.Context, string) (payment.Outcome, error) {
	return payment.Outcome{Status: payment.Success}, nil
}
func (p *psp) Capture(context.Context, string) error { return nil }
func (p *psp) Cancel(context.Context, string) error  { return nil }

func (p *psp) Refund(_ context.Context, ref string, amount int64, _, key string) (payment.RefundOutcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	switch p.mode {
	case "down":
		return payment.RefundOutcome{}, fmt.Errorf("psp: 503: %w", payment.ErrProviderUnavailable)
	case "slow":
		return payment.RefundOutcome{Ref: "re_" + key, Status: payment.RefundSubmitted}, nil
	case "refuse":
		return payment.RefundOutcome{Ref: "re_" + key, Status: payment.RefundError}, nil
	}
	if o, ok := p.byKey[key]; ok {
		return o, nil
	}
	if p.refunded[ref]+amount > p.taken[ref] {
		return payment.RefundOutcome{}, fmt.Errorf("psp: refund of %d exceeds what charge %s has left", amount, ref)
	}
	p.refunded[ref] += amount
	o := payment.RefundOutcome{Ref: "re_" + key, Status: payment.RefundSuccess}
	p.byKey[key] = o
	return o, nil
}

type refundFixture struct {
	fixture
	psp *psp
	reg *jobs.Registry
}

func newRefundFixture(t *testing.T, db *storage.DB) refundFixture {
	t.Helper()
	clock := platform.NewFakeClock(start)
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	svc, err := payment.NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock, payment.WithJobs(ins, reg))
	if err != nil {
		t.Fatal(err)
	}
	p := newPSP()
	svc.Register(p)
	return refundFixture{fixture: fixture{db: db, svc: svc, clock: clock}, psp: p, reg: reg}
}

// paid opens an agency's payment of amount with the test provider, begins
// it and settles it as the provider says (success unless told).
func (f refundFixture) paid(t *testing.T, agency string, amount int64, st payment.Status, code string) payment.Payment {
	t.Helper()
	ctx := context.Background()
	n := ok(agency, amount)
	n.Provider = "testpsp"
	var c payment.Checkout
	if err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = f.svc.OpenCheckout(ctx, tx, agencySystem, payment.OpenCheckout{Payment: &n})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Begin(ctx, agencySystem, c.ID, "https://portico.example.gov/pay/return", "test"); err != nil {
		t.Fatal(err)
	}
	if st != payment.Started {
		if _, err := f.svc.Settle(ctx, agencySystem, c.ID, payment.Outcome{Status: st, Code: code}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := f.svc.Get(ctx, agency, c.Payments[0])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var financeStaff = platform.Actor{Kind: platform.ActorStaff, ID: "fay"}

func problemCode(err error) string {
	var rp *payment.RefundProblem
	if errors.As(err, &rp) {
		return fmt.Sprintf("%s/%d", rp.Code, rp.Status)
	}
	if err != nil {
		return string(platform.ErrorCode(err))
	}
	return ""
}

// TestRefund walks one payment through partial refunds, a refusal by the
// provider (the amount becomes available again), a full refund, and every
// refusal GOV.UK Pay gives, checking the summary, the ledger and Check
// after each step.
func TestRefund(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newRefundFixture(t, db)
		p := f.paid(t, "dmv", 1000, payment.Success, "")
		unfinished := f.paid(t, "dmv", 500, payment.Started, "")
		failed := f.paid(t, "dmv", 500, payment.Failed, payment.CodeRejected)

		steps := []struct {
			name          string
			provider      string // the provider's mode when the job runs
			payment       string
			agency        string
			amount, avail int64
			want          string // problem, or "" for a refund
			after         string // the refund's status once the job ran
			summary       payment.RefundSummary
		}{
			{"unfinished payment", "", unfinished.ID, "dmv", 100, -1, "P0603/400", "", payment.RefundSummary{Status: "pending"}},
			{"failed payment", "", failed.ID, "dmv", 100, -1, "P0603/400", "", payment.RefundSummary{Status: "unavailable"}},
			{"another agency's", "", p.ID, "adams-clerk", 100, -1, "not_found", "", payment.RefundSummary{Status: "available", Available: 1000}},
			{"no such payment", "", "nope", "dmv", 100, -1, "not_found", "", payment.RefundSummary{Status: "available", Available: 1000}},
			{"amount zero", "", p.ID, "dmv", 0, -1, "P0602/422", "", payment.RefundSummary{Status: "available", Available: 1000}},
			{"amount too large", "", p.ID, "dmv", 10_000_001, -1, "P0602/422", "", payment.RefundSummary{Status: "available", Available: 1000}},
			{"stale available", "", p.ID, "dmv", 100, 900, "P0604/412", "", payment.RefundSummary{Status: "available", Available: 1000}},
			{"more than paid", "", p.ID, "dmv", 1001, 1000, "P0603/400", "", payment.RefundSummary{Status: "available", Available: 1000}},
			{"partial", "", p.ID, "dmv", 400, 1000, "", payment.RefundSuccess, payment.RefundSummary{Status: "available", Available: 600, Submitted: 400}},
			{"more than left", "", p.ID, "dmv", 601, 600, "P0603/400", "", payment.RefundSummary{Status: "available", Available: 600, Submitted: 400}},
			{"provider refuses", "refuse", p.ID, "dmv", 600, 600, "", payment.RefundError, payment.RefundSummary{Status: "available", Available: 600, Submitted: 400}},
			{"provider slow", "slow", p.ID, "dmv", 100, -1, "", payment.RefundSubmitted, payment.RefundSummary{Status: "available", Available: 500, Submitted: 500}},
			{"the rest", "", p.ID, "dmv", 500, 500, "", payment.RefundSuccess, payment.RefundSummary{Status: "full", Submitted: 1000}},
			{"nothing left", "", p.ID, "dmv", 1, -1, "P0603/400", "", payment.RefundSummary{Status: "full", Submitted: 1000}},
		}
		var made []payment.Refund
		for _, st := range steps {
			f.psp.mode = st.provider
			f.clock.Advance(time.Second)
			r, err := f.svc.Refund(ctx, financeStaff, st.agency, st.payment, st.amount, st.avail, "  Paid twice at the counter ")
			if got := problemCode(err); got != st.want {
				t.Fatalf("%s: got %q (%v), want %q", st.name, got, err, st.want)
			}
			if st.want == "" {
				if r.Status != payment.RefundSubmitted || r.Amount != st.amount || r.Reason != "Paid twice at the counter" || r.Actor != financeStaff.String() || r.PaymentID != st.payment {
					t.Fatalf("%s: %+v", st.name, r)
				}
				status, err := f.svc.CompleteRefund(ctx, r.ID)
				if err != nil || status != st.after {
					t.Fatalf("%s: job: %q, %v; want %q", st.name, status, err, st.after)
				}
				made = append(made, r)
			}
			sum, err := f.svc.RefundSummary(ctx, "dmv", st.payment)
			if st.payment == "nope" {
				continue
			}
			if st.agency == "dmv" && (err != nil || sum != st.summary) {
				t.Fatalf("%s: summary %+v, %v; want %+v", st.name, sum, err, st.summary)
			}
			rep, err := payment.Check(ctx, db)
			if err != nil || !rep.OK() {
				t.Fatalf("%s: ledger %+v, %v", st.name, rep, err)
			}
		}
		// The slow refund settles later (a webhook, or the job asking again).
		slow := made[2]
		f.psp.mode = ""
		if status, err := f.svc.CompleteRefund(ctx, slow.ID); err != nil || status != payment.RefundSuccess {
			t.Fatalf("slow refund: %q, %v", status, err)
		}
		// Asking again after it was decided changes nothing.
		calls := f.psp.calls
		if status, err := f.svc.CompleteRefund(ctx, slow.ID); err != nil || status != payment.RefundSuccess || f.psp.calls != calls {
			t.Fatalf("again: %q, %v, %d calls", status, err, f.psp.calls-calls)
		}
		list, err := f.svc.Refunds(ctx, "dmv", p.ID)
		if err != nil || len(list) != 4 {
			t.Fatalf("refunds %+v, %v", list, err)
		}
		wantStatus := []string{payment.RefundSuccess, payment.RefundError, payment.RefundSuccess, payment.RefundSuccess}
		for i, r := range list {
			if r.Status != wantStatus[i] || r.ID != made[i].ID {
				t.Errorf("refund %d: %+v", i, r)
			}
		}
		if _, err := f.svc.Refunds(ctx, "adams-clerk", p.ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("another agency listed the refunds: %v", err)
		}
		if got, err := f.svc.GetRefund(ctx, "dmv", p.ID, made[1].ID); err != nil || got.Status != payment.RefundError || got.Amount != 600 {
			t.Errorf("get refund %+v, %v", got, err)
		}
		if _, err := f.svc.GetRefund(ctx, "adams-clerk", p.ID, made[1].ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("another agency read a refund: %v", err)
		}
		// The books: the charge and three refund postings; revenue is
		// back to zero, and the provider's clearing account too.
		rep, err := payment.Check(ctx, db)
		if err != nil || !rep.OK() || rep.Refunds != 4 {
			t.Fatalf("ledger %+v, %v", rep, err)
		}
		for _, b := range rep.Balances {
			if b.Agency == "dmv" && b.Amount != 0 {
				t.Errorf("balance %+v", b)
			}
		}
		if f.psp.refunded["ch_"+p.Checkout] != 1000 {
			t.Errorf("the provider refunded %d", f.psp.refunded["ch_"+p.Checkout])
		}
		// Each refund asked for is one audited request, one event and one job.
		var audited, evs, queued int
		db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE action = 'payment.refund'`).Scan(&audited)
		db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM event_log WHERE type = $1`, payment.EventRefunded).Scan(&evs)
		db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'payment.refund'`).Scan(&queued)
		if audited != 4 || evs != 4 || queued != 4 {
			t.Errorf("audited %d, events %d, jobs %d; want 4 each", audited, evs, queued)
		}
	})
}

// TestRefundProviderDown: a provider that is not answering leaves the
// refund submitted and the job failing (River retries it); nothing is
// posted until it answers.
func TestRefundProviderDown(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newRefundFixture(t, db)
		p := f.paid(t, "dmv", 1000, payment.Success, "")
		r, err := f.svc.Refund(ctx, financeStaff, "dmv", p.ID, 250, -1, "")
		if err != nil {
			t.Fatal(err)
		}
		f.psp.mode = "down"
		if _, err := f.svc.CompleteRefund(ctx, r.ID); !errors.Is(err, payment.ErrProviderUnavailable) {
			t.Fatalf("down: %v", err)
		}
		if got, _ := f.svc.GetRefund(ctx, "dmv", p.ID, r.ID); got.Status != payment.RefundSubmitted {
			t.Fatalf("%+v", got)
		}
		f.psp.mode = ""
		if status, err := f.svc.CompleteRefund(ctx, r.ID); err != nil || status != payment.RefundSuccess {
			t.Fatalf("up: %q %v", status, err)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
			t.Fatalf("%+v %v", rep, err)
		}
	})
}

// TestRefundThroughTheQueue: the job inserted with the refund runs on a
// real River client and settles the refund.
func TestRefundThroughTheQueue(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newRefundFixture(t, db)
		p := f.paid(t, "dmv", 1000, payment.Success, "")
		client, err := jobs.New(db, f.reg, jobs.Config{Work: true, Workers: 2, FetchPollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = client.Stop(stop)
		})
		r, err := f.svc.Refund(ctx, financeStaff, "dmv", p.ID, 1000, 1000, "Service withdrawn")
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := f.svc.GetRefund(ctx, "dmv", p.ID, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == payment.RefundSuccess {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refund still %s", got.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() || rep.Refunds != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
	})
}

// TestConcurrentRefunds: refunds racing on one payment that together
// would exceed it: exactly those that fit are accepted, the rest refused
// with P0603, and nothing is refunded twice.
func TestConcurrentRefunds(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newRefundFixture(t, db)
		p := f.paid(t, "dmv", 1000, payment.Success, "")
		const n = 10
		var wg sync.WaitGroup
		results := make([]error, n)
		refunds := make([]payment.Refund, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				refunds[i], results[i] = f.svc.Refund(ctx, financeStaff, "dmv", p.ID, 300, -1, "")
			}()
		}
		wg.Wait()
		accepted, refused := 0, 0
		for i, err := range results {
			switch problemCode(err) {
			case "":
				accepted++
				if status, err := f.svc.CompleteRefund(ctx, refunds[i].ID); err != nil || status != payment.RefundSuccess {
					t.Errorf("refund %d: %q %v", i, status, err)
				}
			case "P0603/400":
				refused++
			default:
				t.Errorf("refund %d: %v", i, err)
			}
		}
		if accepted != 3 || refused != n-3 {
			t.Fatalf("accepted %d, refused %d; want 3 and %d", accepted, refused, n-3)
		}
		if avail, err := f.svc.RefundAvailable(ctx, "dmv", p.ID); err != nil || avail != 100 {
			t.Fatalf("available %d, %v", avail, err)
		}
		if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() || rep.Refunds != 3 {
			t.Fatalf("%+v %v", rep, err)
		}
	})
}

// TestCheckFindsRefundTampering: refunds are proven against their
// postings; rows changed behind the block's back are named.
func TestCheckFindsRefundTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		kind   string
	}{
		{"posting deleted", `DELETE FROM ledger_entries WHERE kind = 'refund'`, "missing_refund"},
		{"refund undone", `UPDATE payment_refunds SET status = 'error'`, "refund_posting_without_success"},
		{"refund pending again", `UPDATE payment_refunds SET status = 'submitted'`, "refund_posting_without_success"},
		{"posting doubled", `INSERT INTO ledger_entries (txn, agency_id, kind, payment_id, refund_id, account, amount, currency, at) SELECT 'x' || txn, agency_id, kind, payment_id, refund_id, account, amount, currency, at FROM ledger_entries WHERE kind = 'refund'`, "duplicate_refund"},
		{"amount changed", `UPDATE payment_refunds SET amount = amount + 1`, "refund_mismatch"},
		{"posting of no refund", `UPDATE ledger_entries SET refund_id = 'ghost' WHERE kind = 'refund'`, "refund_without_record"},
		{"over refunded", `UPDATE payment_refunds SET amount = 5000`, "over_refunded"},
		{"payment undone", `UPDATE payments SET status = 'failed', code = 'P0010'`, "over_refunded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				f := newRefundFixture(t, db)
				p := f.paid(t, "dmv", 4500, payment.Success, "")
				r, err := f.svc.Refund(ctx, financeStaff, "dmv", p.ID, 1500, -1, "")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.CompleteRefund(ctx, r.ID); err != nil {
					t.Fatal(err)
				}
				if rep, err := payment.Check(ctx, db); err != nil || !rep.OK() {
					t.Fatalf("before: %+v %v", rep, err)
				}
				if _, err := db.Write().Exec(tt.tamper); err != nil {
					t.Fatal(err)
				}
				rep, err := payment.Check(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, fd := range rep.Findings {
					found = found || fd.Kind == tt.kind
				}
				if !found {
					t.Errorf("findings %+v lack %s", rep.Findings, tt.kind)
				}
			})
		})
	}
}

// TestRefundNeedsTheQueue: a block wired without the job queue refuses
// refunds rather than recording one nobody will ask the provider for.
func TestRefundNeedsTheQueue(t *testing.T) {
	f := newFixture(t, storagetest.Open(t, storage.SQLite))
	p := f.create(t, ok("dmv", 100))
	if _, err := f.svc.Refund(context.Background(), financeStaff, "dmv", p.ID, 100, -1, ""); err == nil {
		t.Fatal("refunded without a job queue")
	}
}
