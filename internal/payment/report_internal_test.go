package payment

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// TestReportsMatchTheLedger pays, fails and refunds payments of two
// agencies over several local days (one payment just before and one just
// after local midnight, which are different UTC days than local ones)
// and proves: each day's reconciliation lists exactly that local day's
// charges and refunds; the remittance's days add up to its totals; and
// the remittance over every day equals, for each agency, what Check
// reports: revenue's balance credited and the provider's clearing account
// debited by exactly the net.
func TestReportsMatchTheLedger(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		chicago, err := time.LoadLocation("America/Chicago")
		if err != nil {
			t.Fatal(err)
		}
		// 11:30 PM on December 1 in Chicago (05:30 UTC on December 2).
		clock := platform.NewFakeClock(time.Date(2026, 12, 1, 23, 30, 0, 0, chicago).UTC())
		ins, err := jobs.NewInserter(db, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock, WithJobs(ins, jobs.NewRegistry()))
		if err != nil {
			t.Fatal(err)
		}
		svc.Register(reportPSP{})
		sys := platform.Actor{Kind: platform.ActorSystem, ID: "test"}
		pay := func(agency string, amount int64, status Status, code string) string {
			t.Helper()
			var c Checkout
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				c, err = svc.OpenCheckout(ctx, tx, sys, OpenCheckout{ReturnURL: "https://portico.example.gov/r", Provider: "reportpsp",
					Items: []Item{{Kind: ItemAPI, Agency: agency, Amount: amount, Currency: "USD", Reference: "R", DescriptionEN: "x", DescriptionES: "x"}}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Begin(ctx, sys, c.ID, "https://portico.example.gov/r", "x"); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Settle(ctx, sys, c.ID, Outcome{Status: status, Code: code}); err != nil {
				t.Fatal(err)
			}
			return c.Payments[0]
		}
		// A refund as finance staff make it: recorded, then completed by
		// the provider as the refund job does.
		refund := func(agency, id string, amount int64) {
			t.Helper()
			r, err := svc.Refund(ctx, platform.Actor{Kind: platform.ActorStaff, ID: "fay"}, agency, id, amount, -1, "test")
			if err != nil {
				t.Fatal(err)
			}
			if st, err := svc.CompleteRefund(ctx, r.ID); err != nil || st != RefundSuccess {
				t.Fatalf("refund %s: %s %v", r.ID, st, err)
			}
		}
		// December 1 (local): one DMV charge at 11:30 PM.
		late := pay("dmv", 5000, Success, "")
		// December 2: a charge just after midnight, a failure, a partial
		// refund of the late charge, and a clerk's charge.
		clock.Advance(45 * time.Minute)
		early := pay("dmv", 1250, Success, "")
		pay("dmv", 700, Failed, CodeRejected)
		refund("dmv", late, 1500)
		clerk := pay("adams-clerk", 3300, Success, "")
		// December 4: the rest of the early charge is refunded, the clerk's
		// in part.
		clock.Advance(48 * time.Hour)
		refund("dmv", early, 1250)
		refund("adams-clerk", clerk, 300)

		staff := platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}
		day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, chicago) }
		want := map[int]struct {
			charges, refunds int64
			n                int
		}{1: {5000, 0, 1}, 2: {1250, 1500, 2}, 3: {0, 0, 0}, 4: {0, 1250, 1}}
		for d, w := range want {
			rec, err := svc.Reconcile(ctx, staff, "dmv", day(d), chicago)
			if err != nil {
				t.Fatal(err)
			}
			var charges, refunds int64
			for _, m := range rec.Movements {
				if got := m.At.In(chicago).Day(); got != d {
					t.Errorf("December %d lists a movement of December %d", d, got)
				}
				if !strings.HasPrefix(m.ProviderRef, "ch_") || m.Reference != "R" {
					t.Errorf("December %d: movement without its provider's reference: %+v", d, m)
				}
				if m.Kind == KindCharge {
					charges += m.Amount
				} else {
					refunds += m.Amount
				}
			}
			if len(rec.Movements) != w.n || charges != w.charges || refunds != w.refunds {
				t.Errorf("December %d: %d movements, charges %d, refunds %d; want %+v", d, len(rec.Movements), charges, refunds, w)
			}
			if w.n > 0 && (len(rec.Totals) != 1 || rec.Totals[0].Charges != charges || rec.Totals[0].Refunds != refunds || rec.Totals[0].Net != charges-refunds) {
				t.Errorf("December %d totals: %+v", d, rec.Totals)
			}
		}
		rep, err := Check(ctx, db)
		if err != nil || !rep.OK() {
			t.Fatalf("check: %+v %v", rep, err)
		}
		for _, agency := range []string{"dmv", "adams-clerk"} {
			rem, err := svc.Remit(ctx, staff, agency, day(1), day(31), chicago)
			if err != nil {
				t.Fatal(err)
			}
			var sum DayTotal
			for _, d := range rem.Days {
				sum.Charges += d.Charges
				sum.Refunds += d.Refunds
				sum.Net += d.Net
			}
			if len(rem.Totals) != 1 || rem.Totals[0].Net != sum.Net || rem.Totals[0].Charges != sum.Charges || rem.Totals[0].Refunds != sum.Refunds {
				t.Errorf("%s: the days add up to %+v, the totals say %+v", agency, sum, rem.Totals)
			}
			balance := map[string]int64{}
			for _, b := range rep.Balances {
				if b.Agency == agency && b.Currency == "USD" {
					balance[b.Account] = b.Amount
				}
			}
			if -balance[AccountRevenue] != sum.Net || balance[AccountClearing] != sum.Net {
				t.Errorf("%s: remittance net %d; the ledger's revenue %d and clearing %d", agency, sum.Net, balance[AccountRevenue], balance[AccountClearing])
			}
		}
		if _, err := svc.Remit(ctx, staff, "dmv", day(1), day(1).AddDate(0, 0, MaxRemittanceDays), chicago); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("a range past the limit: %v", err)
		}
		if _, err := svc.Remit(ctx, staff, "dmv", day(2), day(1), chicago); platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("a range ending before it starts: %v", err)
		}
	})
}

// reportPSP is a provider that takes every charge and refund at once.
type reportPSP struct{}

func (reportPSP) Name() string { return "reportpsp" }
func (reportPSP) Start(_ context.Context, c Charge) (Begun, error) {
	return Begun{Ref: "ch_" + c.Checkout, NextURL: "https://psp.example/" + c.Checkout}, nil
}
func (reportPSP) Status(context.Context, string) (Outcome, error) {
	return Outcome{Status: Success}, nil
}
func (reportPSP) Capture(context.Context, string) error { return nil }
func (reportPSP) Cancel(context.Context, string) error  { return nil }
func (reportPSP) Refund(_ context.Context, _ string, _ int64, _, key string) (RefundOutcome, error) {
	return RefundOutcome{Ref: "re_" + key, Status: RefundSuccess}, nil
}
