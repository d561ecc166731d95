package payment

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// Reports read the agency's ledger, not the payments: a day's report is
// the money that moved that day (a charge is posted when its payment
// succeeds, a refund when the provider confirms it), so its totals are
// the ledger's by construction and summing every day's gives the
// balances Check reports. Payments that moved no money (failed,
// cancelled, unfinished) are on the payments list, not in the reports.
// Days are calendar days in the zone the caller gives (the
// jurisdiction's), read through the index ledger_entries_agency_at.

// Movement is one posting of money for a payment: a charge or a refund.
type Movement struct {
	Kind        string // KindCharge or KindRefund
	Txn         string // the ledger posting
	PaymentID   string
	Reference   string
	Provider    string
	ProviderRef string // the provider's reference of the charge ("" if none yet)
	Status      Status // the payment's status now
	Amount      int64  // minor units, positive: what was charged or refunded
	Currency    string
	At          time.Time
}

// DayTotal is the money that moved on one day in one currency.
type DayTotal struct {
	Day      string // ISO date, in the report's zone
	Currency string
	Charges  int64
	Refunds  int64
	// Net is what the agency is owed for the day: Charges - Refunds.
	Net         int64
	ChargeCount int64
	RefundCount int64
}

// Reconciliation is every charge and refund of one agency on one day,
// with the day's totals per currency.
type Reconciliation struct {
	Agency    string
	Day       string // ISO date
	Movements []Movement
	Totals    []DayTotal // one per currency, sorted by currency
}

// Remittance is what the agency is owed for each day of a range.
type Remittance struct {
	Agency string
	From   string // ISO dates, inclusive
	To     string
	Days   []DayTotal // one per day and currency that moved money, in day order
	Totals []DayTotal // the range's totals per currency (Day is "")
}

// MaxRemittanceDays bounds a remittance report's range.
const MaxRemittanceDays = 92

// dayStart is midnight of date in loc.
func dayStart(date time.Time, loc *time.Location) time.Time {
	y, m, d := date.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Reconcile returns agency's reconciliation for the calendar day date
// (its year, month and day, read in loc) for actor, and audits it
// (payment.report.read).
func (s *Service) Reconcile(ctx context.Context, actor platform.Actor, agency string, date time.Time, loc *time.Location) (Reconciliation, error) {
	if err := MayReadFinance(actor, agency); err != nil {
		return Reconciliation{}, err
	}
	if loc == nil {
		loc = time.UTC
	}
	from := dayStart(date, loc)
	to := from.AddDate(0, 0, 1)
	ms, err := s.movements(ctx, agency, from, to, true)
	if err != nil {
		return Reconciliation{}, err
	}
	rec := Reconciliation{Agency: agency, Day: from.Format(time.DateOnly), Movements: ms, Totals: totals(ms, loc, false)}
	for i := range rec.Totals {
		rec.Totals[i].Day = rec.Day
	}
	if err := s.reportRead(ctx, actor, agency, "reconciliation", rec.Day, rec.Day); err != nil {
		return Reconciliation{}, err
	}
	return rec, nil
}

// Remit returns agency's remittance for each day from first to last
// (inclusive, calendar days read in loc; at most MaxRemittanceDays) for
// actor, and audits it (payment.report.read).
func (s *Service) Remit(ctx context.Context, actor platform.Actor, agency string, first, last time.Time, loc *time.Location) (Remittance, error) {
	if err := MayReadFinance(actor, agency); err != nil {
		return Remittance{}, err
	}
	if loc == nil {
		loc = time.UTC
	}
	from, end := dayStart(first, loc), dayStart(last, loc)
	if end.Before(from) {
		return Remittance{}, platform.Invalid("to", "the last day is before the first")
	}
	to := end.AddDate(0, 0, 1)
	if to.After(from.AddDate(0, 0, MaxRemittanceDays)) {
		return Remittance{}, platform.Invalid("to", fmt.Sprintf("a remittance report covers at most %d days", MaxRemittanceDays))
	}
	ms, err := s.movements(ctx, agency, from, to, false)
	if err != nil {
		return Remittance{}, err
	}
	rem := Remittance{Agency: agency, From: from.Format(time.DateOnly), To: end.Format(time.DateOnly), Days: totals(ms, loc, true), Totals: totals(ms, loc, false)}
	for i := range rem.Totals {
		rem.Totals[i].Day = ""
	}
	if err := s.reportRead(ctx, actor, agency, "remittance", rem.From, rem.To); err != nil {
		return Remittance{}, err
	}
	return rem, nil
}

func (s *Service) reportRead(ctx context.Context, actor platform.Actor, agency, report, from, to string) error {
	_, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "payment.report.read", Subject: "agency:" + agency, AgencyID: agency,
		Detail: map[string]any{"report": report, "from": from, "to": to}})
	return err
}

// movements reads agency's charge and refund postings in [from, to) from
// the ledger (each posting's revenue lines: credited by a charge, debited
// by a refund) and, when described, each one's payment reference and
// provider reference. The ledger is read alone through its (agency_id,
// at) index and the payments by primary key in batches: a join would let
// the planner scan every payment for a busy week.
func (s *Service) movements(ctx context.Context, agency string, from, to time.Time, described bool) ([]Movement, error) {
	var out []Movement
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT txn, kind, payment_id, amount, currency, at FROM ledger_entries
			WHERE agency_id = $1 AND at >= $2 AND at < $3 AND account = $4 AND kind IN ('charge', 'refund')
			ORDER BY at, id`, agency, from.UTC(), to.UTC(), AccountRevenue)
		if err != nil {
			return err
		}
		byTxn := map[string]int{}
		for rows.Next() {
			var m Movement
			var amount int64
			if err := rows.Scan(&m.Txn, &m.Kind, &m.PaymentID, &amount, &m.Currency, &m.At); err != nil {
				rows.Close()
				return err
			}
			m.At = m.At.UTC()
			// Revenue is credited (negative) by a charge and debited
			// (positive) by a refund: a movement's amount is positive.
			if m.Kind == KindCharge {
				amount = -amount
			}
			if i, ok := byTxn[m.Txn]; ok {
				out[i].Amount += amount
				continue
			}
			m.Amount = amount
			byTxn[m.Txn] = len(out)
			out = append(out, m)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if !described {
			return nil
		}
		type about struct {
			reference, provider, ref string
			status                   Status
		}
		seen := map[string]*about{}
		var ids []string
		for _, m := range out {
			if _, ok := seen[m.PaymentID]; !ok {
				seen[m.PaymentID] = nil
				ids = append(ids, m.PaymentID)
			}
		}
		const batch = 100
		for len(ids) > 0 {
			n := min(batch, len(ids))
			chunk := ids[:n]
			ids = ids[n:]
			args := make([]any, len(chunk))
			marks := make([]string, len(chunk))
			for i, id := range chunk {
				args[i] = id
				marks[i] = fmt.Sprintf("$%d", i+1)
			}
			rows, err := tx.QueryContext(ctx, `SELECT p.id, p.reference, p.provider, p.status, COALESCE(c.provider_ref, '')
				FROM payments p LEFT JOIN checkouts c ON c.id = p.checkout_id WHERE p.id IN (`+strings.Join(marks, ", ")+`)`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id, status string
				a := &about{}
				if err := rows.Scan(&id, &a.reference, &a.provider, &status, &a.ref); err != nil {
					rows.Close()
					return err
				}
				a.status = Status(status)
				seen[id] = a
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		for i := range out {
			if a := seen[out[i].PaymentID]; a != nil {
				out[i].Reference, out[i].Provider, out[i].ProviderRef, out[i].Status = a.reference, a.provider, a.ref, a.status
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payment: report: %w", err)
	}
	return out, nil
}

// totals sums movements per currency, and per local day too when byDay.
func totals(ms []Movement, loc *time.Location, byDay bool) []DayTotal {
	type key struct{ day, cur string }
	sums := map[key]*DayTotal{}
	for _, m := range ms {
		k := key{cur: m.Currency}
		if byDay {
			k.day = m.At.In(loc).Format(time.DateOnly)
		}
		t := sums[k]
		if t == nil {
			t = &DayTotal{Day: k.day, Currency: k.cur}
			sums[k] = t
		}
		switch m.Kind {
		case KindCharge:
			t.Charges += m.Amount
			t.ChargeCount++
		case KindRefund:
			t.Refunds += m.Amount
			t.RefundCount++
		}
		t.Net = t.Charges - t.Refunds
	}
	out := make([]DayTotal, 0, len(sums))
	for _, t := range sums {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day < out[j].Day
		}
		return out[i].Currency < out[j].Currency
	})
	return out
}
