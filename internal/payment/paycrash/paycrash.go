// Package paycrash kills a payment in flight, for the crash tests of the
// payment block and of its providers (issue 12: "a test kills the
// process at each step of a payment … and proves that after restart
// nothing is lost, nothing is charged twice, and the ledger balances").
//
// A crash test runs a child copy of its test binary (Child) that does one
// step of a payment with its provider wrapped in a Killer; the Killer
// dies by SIGKILL at the named Point, the way a power cut or an OOM kill
// stops Portico: no deferred function runs, no transaction commits. The
// parent then starts the block again on the same database, lets what a
// restarted Portico does run (the payer trying again, the settle sweep,
// the refund job's retry, the provider's webhook redelivery) and proves
// the invariants with Verify.
//
// It is test support: nothing in a running Portico imports it.
package paycrash

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// Points where a Killer dies.
const (
	BeforeStart  = "before-start"  // the checkout opened; the provider not yet asked for the charge
	AfterStart   = "after-start"   // the provider made the charge; Portico has not recorded it
	AfterStatus  = "after-status"  // the provider's state read (return page, webhook, sweep); not yet recorded
	AfterCancel  = "after-cancel"  // the sweep cancelled an expired charge at the provider; the expiry not recorded
	BeforeRefund = "before-refund" // the refund job runs; the provider not yet asked
	AfterRefund  = "after-refund"  // the provider refunded; Portico has not recorded it
)

// Environment of the child: the database, the point to die at, and what
// the step acts on (a checkout or refund id, a time).
const (
	EnvDB    = "PORTICO_PAY_CRASH_DB"
	EnvPoint = "PORTICO_PAY_CRASH_POINT"
	EnvArg   = "PORTICO_PAY_CRASH_ARG"
	EnvNow   = "PORTICO_PAY_CRASH_NOW"
	EnvURL   = "PORTICO_PAY_CRASH_URL"
)

// Die stops the process at once, as a power cut would.
func Die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// Killer is a payment.Provider that dies at Point.
type Killer struct {
	payment.Provider
	Point string
}

// Start implements payment.Provider.
func (k Killer) Start(ctx context.Context, c payment.Charge) (payment.Begun, error) {
	k.at(BeforeStart)
	b, err := k.Provider.Start(ctx, c)
	if err == nil {
		k.at(AfterStart)
	}
	return b, err
}

// Status implements payment.Provider.
func (k Killer) Status(ctx context.Context, ref string) (payment.Outcome, error) {
	o, err := k.Provider.Status(ctx, ref)
	if err == nil {
		k.at(AfterStatus)
	}
	return o, err
}

// Cancel implements payment.Provider.
func (k Killer) Cancel(ctx context.Context, ref string) error {
	err := k.Provider.Cancel(ctx, ref)
	k.at(AfterCancel)
	return err
}

// Refund implements payment.Provider.
func (k Killer) Refund(ctx context.Context, ref string, amount int64, currency, key string) (payment.RefundOutcome, error) {
	k.at(BeforeRefund)
	out, err := k.Provider.Refund(ctx, ref, amount, currency, key)
	if err == nil {
		k.at(AfterRefund)
	}
	return out, err
}

// Find implements payment.Finder when the wrapped provider does.
func (k Killer) Find(ctx context.Context, checkout string) (string, error) {
	f, ok := k.Provider.(payment.Finder)
	if !ok {
		return "", nil
	}
	return f.Find(ctx, checkout)
}

func (k Killer) at(p string) {
	if k.Point == p {
		Die()
	}
}

// Database returns a new, migrated database of dialect d and its URL,
// for a parent and its child to share.
func Database(t *testing.T, d storage.Dialect) (string, *storage.DB) {
	t.Helper()
	u := storagetest.NewURL(t, d)
	db, err := storage.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u, db
}

// Step is what a child is asked to do: its step's name, on the parent's
// database, at the parent's time. In a normal run (not a child) it skips
// t.
func Step(t *testing.T) (name string, db *storage.DB, now time.Time) {
	t.Helper()
	u := os.Getenv(EnvDB)
	if u == "" {
		t.Skip("crash helper: runs only as the child of a …SurvivesCrash test")
	}
	db, err := storage.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	if now, err = time.Parse(time.RFC3339Nano, os.Getenv(EnvNow)); err != nil {
		t.Fatal(err)
	}
	return os.Getenv(EnvArg), db, now
}

// Child runs the test named run (an exact name) in a child copy of this
// test binary to do step on database u at now (Step), with env added,
// and fails t unless the child died by SIGKILL: a child that finished
// its step without dying proves nothing.
func Child(t *testing.T, run, step, u string, now time.Time, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), EnvDB+"="+u, EnvArg+"="+step, EnvNow+"="+now.Format(time.RFC3339Nano))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child did not die by SIGKILL (err %v):\n%s", err, out)
	}
}

// Truth is what the provider itself holds for one checkout.
type Truth struct {
	Charges  int            // charges (sessions) the provider made for the checkout
	Status   payment.Status // the charge's state at the provider ("" without a charge)
	Refunded int64          // what the provider gave back
	Refunds  int            // refunds the provider made
}

// Verify proves, after a restart, for every checkout in db: the provider
// made at most one charge for it; the checkout and each of its payments
// agree with the provider (money taken at the provider is a success in
// Portico and the reverse; an unfinished charge is not finished here);
// no item (a case's fee, an obligation) is paid by two successful
// checkouts; a finished checkout that did not succeed holds no claim;
// every refund is decided and what the provider gave back is exactly the
// sum of the successful refunds, one provider refund each; and
// payment.Check finds the books balanced with every success and refund
// posted once.
func Verify(t *testing.T, db *storage.DB, truth func(checkout string) Truth) {
	t.Helper()
	ctx := context.Background()
	q := func(query string, args ...any) [][]string {
		rows, err := db.Read().QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				row[i] = fmt.Sprint(v)
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, c := range q(`SELECT id, status FROM checkouts ORDER BY id`) {
		id, status := c[0], payment.Status(c[1])
		tr := truth(id)
		if tr.Charges > 1 {
			t.Errorf("checkout %s: the provider made %d charges", id, tr.Charges)
		}
		if tr.Charges == 1 && !agree(status, tr.Status) {
			t.Errorf("checkout %s is %s; the provider's charge is %s", id, status, tr.Status)
		}
		if tr.Charges == 0 && status == payment.Success {
			t.Errorf("checkout %s succeeded with no charge at the provider", id)
		}
		for _, p := range q(`SELECT id, status FROM payments WHERE checkout_id = $1`, id) {
			if payment.Status(p[1]) != status {
				t.Errorf("payment %s is %s, its checkout %s", p[0], p[1], status)
			}
		}
		if status.Finished() && status != payment.Success {
			if n := q(`SELECT COUNT(*) FROM checkout_claims WHERE checkout_id = $1`, id)[0][0]; n != "0" {
				t.Errorf("checkout %s ended %s but still holds %s claims", id, status, n)
			}
		}
		var refunded int64
		refunds := 0
		for _, r := range q(`SELECT r.id, r.status, r.amount FROM payment_refunds r JOIN payments p ON p.id = r.payment_id WHERE p.checkout_id = $1`, id) {
			switch r[1] {
			case payment.RefundSuccess:
				var n int64
				_, _ = fmt.Sscan(r[2], &n)
				refunded += n
				refunds++
			case payment.RefundSubmitted:
				t.Errorf("refund %s is still submitted", r[0])
			}
		}
		if refunded != tr.Refunded || refunds != tr.Refunds {
			t.Errorf("checkout %s: %d refunds of %d recorded; the provider made %d of %d", id, refunds, refunded, tr.Refunds, tr.Refunded)
		}
	}
	for _, d := range q(`SELECT i.kind, i.source, COUNT(*) FROM checkout_items i JOIN checkouts k ON k.id = i.checkout_id
		WHERE k.status = 'success' AND i.kind <> 'api' GROUP BY i.kind, i.source HAVING COUNT(*) > 1`) {
		t.Errorf("%s %s paid by %s checkouts", d[0], d[1], d[2])
	}
	rep, err := payment.Check(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("ledger check: %+v", rep.Findings)
	}
}

// agree: Portico's status and the provider's say the same about the
// money. Taken (success, capturable) must match exactly; a charge not
// finished must not be finished here; two ways of ending without money
// (the sweep's P0020 over the provider's cancellation) agree.
func agree(ours, theirs payment.Status) bool {
	switch {
	case ours == theirs:
		return true
	case ours == payment.Success || theirs == payment.Success || ours == payment.Capturable || theirs == payment.Capturable:
		return false
	}
	return ours.Finished() && theirs.Finished()
}
