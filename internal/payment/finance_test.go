package payment_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

func staff(agency, role string) platform.Actor {
	return platform.Actor{Kind: platform.ActorStaff, ID: "staff-" + agency + "-" + role, Grants: []platform.Grant{{Agency: agency, Role: role}}}
}

// pay opens a checkout for a person paying amount to agency and settles
// it to status (with code), returning the payment id.
func (f fixture) pay(t *testing.T, agency, ref, email string, amount int64, status payment.Status, code string) string {
	t.Helper()
	ctx := context.Background()
	var c payment.Checkout
	if err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = f.svc.OpenCheckout(ctx, tx, agencySystem, payment.OpenCheckout{Account: "acct-" + email, Email: email,
			ReturnURL: "https://portico.example.gov/pay/return",
			Items:     []payment.Item{{Kind: payment.ItemAPI, Agency: agency, Amount: amount, Currency: "USD", Reference: ref, DescriptionEN: "Fee", DescriptionES: "Tarifa"}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if status != payment.Created {
		if _, err := f.svc.Settle(ctx, agencySystem, c.ID, payment.Outcome{Status: status, Code: code}); err != nil {
			t.Fatal(err)
		}
	}
	return c.Payments[0]
}

func auditCount(t *testing.T, db *storage.DB, action string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_entries WHERE action = $1`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFinancePolicy runs every finance read as every kind of principal:
// finance staff, agency administrators and auditors of the agency read;
// its caseworkers are forbidden; a platform administrator reads any
// agency; staff of another agency, citizens, clients and anonymous
// visitors are told not found (or to sign in). Only finance staff and
// agency administrators may refund. Each allowed read writes exactly one
// audit entry; a refused one writes none.
func TestFinancePolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		id := f.pay(t, "dmv", "DMV-1", "ana@example.com", 4500, payment.Success, "")
		admin := platform.Actor{Kind: platform.ActorStaff, ID: "pat", PlatformAdmin: true}
		cases := []struct {
			name   string
			actor  platform.Actor
			read   platform.Code // "" allowed
			refund platform.Code
		}{
			{"finance of the agency", staff("dmv", "finance"), "", ""},
			{"agency administrator", staff("dmv", "agency_admin"), "", ""},
			{"auditor", staff("dmv", "auditor"), "", platform.CodeForbidden},
			{"caseworker", staff("dmv", "caseworker"), platform.CodeForbidden, platform.CodeForbidden},
			{"finance of another agency", staff("adams-clerk", "finance"), platform.CodeNotFound, platform.CodeNotFound},
			{"platform administrator", admin, "", platform.CodeForbidden},
			{"citizen who paid", platform.Actor{Kind: platform.ActorCitizen, ID: "acct-ana@example.com"}, platform.CodeNotFound, platform.CodeNotFound},
			{"client", platform.Actor{Kind: platform.ActorClient, ID: "pc_dmv"}, platform.CodeUnauthorized, platform.CodeUnauthorized},
			{"anonymous", platform.Actor{Kind: platform.ActorAnonymous}, platform.CodeUnauthorized, platform.CodeUnauthorized},
		}
		day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				reads := map[string]func() error{
					"list": func() error {
						_, err := f.svc.List(ctx, c.actor, payment.Filter{Agency: "dmv"})
						return err
					},
					"view": func() error {
						_, err := f.svc.View(ctx, c.actor, id)
						return err
					},
					"reconcile": func() error {
						_, err := f.svc.Reconcile(ctx, c.actor, "dmv", day, time.UTC)
						return err
					},
					"remit": func() error {
						_, err := f.svc.Remit(ctx, c.actor, "dmv", day, day, time.UTC)
						return err
					},
				}
				for name, read := range reads {
					before := auditCount(t, db, "payment.list.read") + auditCount(t, db, "payment.read") + auditCount(t, db, "payment.report.read")
					err := read()
					after := auditCount(t, db, "payment.list.read") + auditCount(t, db, "payment.read") + auditCount(t, db, "payment.report.read")
					if got := platform.ErrorCode(err); got != c.read {
						t.Errorf("%s: code %q (%v), want %q", name, got, err, c.read)
					}
					want := 0
					if c.read == "" {
						want = 1
					}
					if after-before != want {
						t.Errorf("%s: %d audit entries, want %d", name, after-before, want)
					}
				}
				if got := platform.ErrorCode(payment.MayRefund(c.actor, "dmv")); got != c.refund {
					t.Errorf("refund: code %q, want %q", got, c.refund)
				}
			})
		}
		// The read names the payer, so "Who has used my data" finds it.
		if _, err := f.svc.View(ctx, staff("dmv", "finance"), id); err != nil {
			t.Fatal(err)
		}
		var person sql.NullString
		if err := db.Read().QueryRowContext(ctx, `SELECT person_id FROM audit_entries WHERE action = 'payment.read' ORDER BY seq DESC LIMIT 1`).Scan(&person); err != nil || person.String != "acct-ana@example.com" {
			t.Errorf("payment.read names %q, want the payer (%v)", person.String, err)
		}
		// An id that does not exist is not found for everyone allowed to read.
		if _, err := f.svc.View(ctx, admin, "nosuchpayment"); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("unknown id: %v", err)
		}
	})
}

// TestFinanceListPagesAndFilters: keyset pages cover every payment once,
// newest first, ties on created_at broken by id; filters by status,
// reference, email (ignoring case) and a date range; a cursor of another
// agency is refused; bad filters are invalid, not errors.
func TestFinanceListPagesAndFilters(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		reader := staff("dmv", "finance")
		var want []string
		for i := range 11 {
			// Pairs created in the same instant: the id breaks the tie.
			if i%2 == 0 {
				f.clock.Advance(time.Hour)
			}
			status, code := payment.Success, ""
			if i%3 == 0 {
				status, code = payment.Failed, payment.CodeRejected
			}
			want = append(want, f.pay(t, "dmv", fmt.Sprintf("DMV-%02d", i), fmt.Sprintf("Payer%d@Example.com", i%4), int64(100+i), status, code))
		}
		other := f.pay(t, "adams-clerk", "CLERK-1", "payer0@example.com", 999, payment.Success, "")
		// Newest first: by created_at descending, then id descending.
		type row struct {
			id string
			at time.Time
		}
		var rows []row
		for _, id := range want {
			p, err := f.svc.Get(ctx, "dmv", id)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, row{id, p.CreatedAt})
		}
		slices.SortFunc(rows, func(a, b row) int {
			if c := b.at.Compare(a.at); c != 0 {
				return c
			}
			return strings.Compare(b.id, a.id)
		})
		var order []string
		for _, r := range rows {
			order = append(order, r.id)
		}
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			page, err := f.svc.List(ctx, reader, payment.Filter{Agency: "dmv", After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Payments {
				got = append(got, p.ID)
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if !slices.Equal(got, order) {
			t.Fatalf("pages gave\n%v\nwant\n%v", got, order)
		}
		count := func(fl payment.Filter) int {
			t.Helper()
			fl.Agency, fl.Limit = "dmv", payment.MaxPage
			page, err := f.svc.List(ctx, reader, fl)
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Payments)
		}
		first, _ := f.svc.Get(ctx, "dmv", want[0])
		cases := []struct {
			name string
			f    payment.Filter
			want int
		}{
			{"every payment", payment.Filter{}, 11},
			{"failed", payment.Filter{Status: payment.Failed}, 4},
			{"paid", payment.Filter{Status: payment.Success}, 7},
			{"reference", payment.Filter{Reference: "DMV-04"}, 1},
			{"another agency's reference", payment.Filter{Reference: "CLERK-1"}, 0},
			{"email, any case", payment.Filter{Email: " payer1@EXAMPLE.com "}, 3},
			{"from the second hour", payment.Filter{From: first.CreatedAt.Add(time.Hour)}, 9},
			{"the first hour only", payment.Filter{From: first.CreatedAt, To: first.CreatedAt.Add(time.Hour)}, 2},
			{"status and email", payment.Filter{Status: payment.Failed, Email: "payer0@example.com"}, 1},
		}
		for _, c := range cases {
			if n := count(c.f); n != c.want {
				t.Errorf("%s: %d payments, want %d", c.name, n, c.want)
			}
		}
		for _, bad := range []payment.Filter{
			{Agency: "dmv", Status: "paid"},
			{Agency: "dmv", Limit: payment.MaxPage + 1},
			{Agency: "dmv", After: other},
			{Agency: "dmv", From: first.CreatedAt, To: first.CreatedAt},
			{Agency: "dmv", Reference: strings.Repeat("x", 300)},
		} {
			if _, err := f.svc.List(ctx, reader, bad); platform.ErrorCode(err) != platform.CodeInvalid {
				t.Errorf("%+v: %v, want invalid", bad, err)
			}
		}
		// The detail of a successful payment: its history, items and charge.
		d, err := f.svc.View(ctx, reader, want[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(d.History) != 4 || d.History[3].State.Status != payment.Success || len(d.Items) != 1 || d.Items[0].DescriptionES != "Tarifa" ||
			len(d.Postings) != 2 || d.Available != d.Amount || d.Account != "acct-Payer1@Example.com" {
			t.Errorf("detail: %+v", d)
		}
		if d, err := f.svc.View(ctx, reader, want[0]); err != nil || d.Available != 0 || len(d.Postings) != 0 || d.History[len(d.History)-1].State.Code != payment.CodeRejected {
			t.Errorf("failed payment's detail: %+v %v", d, err)
		}
	})
}
