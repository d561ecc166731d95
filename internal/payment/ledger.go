package payment

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/storage"
)

// Ledger accounts. Each agency has its own books; a line's amount is a
// debit when positive and a credit when negative.
const (
	// AccountClearing is money the payment provider holds for the agency:
	// debited by a charge, credited by a refund and a payout.
	AccountClearing = "provider_clearing"
	// AccountRevenue is what the agency earned: credited by a charge,
	// debited by a refund.
	AccountRevenue = "revenue"
	// AccountBank is the agency's bank account: debited by a payout.
	AccountBank = "bank"
)

// Posting kinds.
const (
	KindCharge = "charge"
	KindRefund = "refund"
	KindPayout = "payout"
)

// Line is one side of a posting.
type Line struct {
	Account string
	Amount  int64 // minor units; debit > 0, credit < 0
}

// Posting is a balanced set of lines in one agency and currency.
type Posting struct {
	Agency    string
	Kind      string
	PaymentID string // the payment it is for ("" for a payout)
	RefundID  string // the refund it is for (kind refund only)
	Currency  string
	Lines     []Line
}

// post writes p in tx. It refuses a posting that does not balance, has
// fewer than two lines, a zero line, or an unknown account: the books
// hold only balanced entries, so a sum over any set of whole postings is
// zero.
func post(ctx context.Context, tx *sql.Tx, p Posting, at time.Time) (string, error) {
	if p.Agency == "" || p.Currency == "" {
		return "", fmt.Errorf("payment: ledger: a posting needs an agency and a currency")
	}
	switch p.Kind {
	case KindCharge, KindRefund, KindPayout:
	default:
		return "", fmt.Errorf("payment: ledger: unknown kind %q", p.Kind)
	}
	if (p.Kind == KindRefund) != (p.RefundID != "") {
		return "", fmt.Errorf("payment: ledger: a refund posting, and only one, names its refund")
	}
	if len(p.Lines) < 2 {
		return "", fmt.Errorf("payment: ledger: a posting needs two lines or more")
	}
	var sum int64
	for _, l := range p.Lines {
		switch l.Account {
		case AccountClearing, AccountRevenue, AccountBank:
		default:
			return "", fmt.Errorf("payment: ledger: unknown account %q", l.Account)
		}
		if l.Amount == 0 {
			return "", fmt.Errorf("payment: ledger: a line of zero")
		}
		next := sum + l.Amount
		if (l.Amount > 0 && next < sum) || (l.Amount < 0 && next > sum) {
			return "", fmt.Errorf("payment: ledger: amounts overflow")
		}
		sum = next
	}
	if sum != 0 {
		return "", fmt.Errorf("payment: ledger: posting does not balance (off by %d)", sum)
	}
	txn := uuid.NewString()
	for _, l := range p.Lines {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (txn, agency_id, kind, payment_id, refund_id, account, amount, currency, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			txn, p.Agency, p.Kind, p.PaymentID, p.RefundID, l.Account, l.Amount, p.Currency, at.UTC()); err != nil {
			return "", fmt.Errorf("payment: ledger: %w", err)
		}
	}
	return txn, nil
}

// Finding is one thing wrong with the books.
type Finding struct {
	// Kind is one of unbalanced, missing_charge, charge_mismatch,
	// charge_without_payment, duplicate_charge (charges against payments);
	// missing_refund, duplicate_refund, refund_mismatch,
	// refund_posting_without_success, refund_without_record (refund
	// postings against refunds); over_refunded (a payment's refunds not in
	// error exceed it, or it did not succeed).
	Kind    string `json:"kind"`
	Refund  string `json:"refund,omitempty"`
	Agency  string `json:"agency,omitempty"`
	Payment string `json:"payment,omitempty"`
	Txn     string `json:"txn,omitempty"`
	Detail  string `json:"detail"`
}

// Balance is one account's balance in one agency and currency.
type Balance struct {
	Agency   string `json:"agency"`
	Account  string `json:"account"`
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// Report is the outcome of Check.
type Report struct {
	Postings int64     `json:"postings"`
	Payments int64     `json:"payments"` // successful payments checked
	Refunds  int64     `json:"refunds"`  // refunds checked
	Balances []Balance `json:"balances"`
	Findings []Finding `json:"findings"`
}

// OK reports whether the books are sound.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// Check proves the books: every posting balances within its agency and
// currency; every successful payment has exactly one charge posting of
// its amount, agency and currency; no charge posting is for a payment
// that did not succeed; every successful refund has exactly one refund
// posting of its amount (debit revenue, credit provider_clearing) for its
// payment, agency and currency, and no other refund has any; and a
// payment's refunds not in error never exceed it. It reads every entry (an operator's
// command, not a page), in one read transaction so the picture is
// consistent.
func Check(ctx context.Context, db *storage.DB) (Report, error) {
	var rep Report
	err := snapshot(ctx, db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT txn, MIN(agency_id), MAX(agency_id), MIN(currency), MAX(currency), SUM(amount), COUNT(*) FROM ledger_entries GROUP BY txn ORDER BY txn`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var txn, a1, a2, c1, c2 string
			var sum, n int64
			if err := rows.Scan(&txn, &a1, &a2, &c1, &c2, &sum, &n); err != nil {
				rows.Close()
				return err
			}
			rep.Postings++
			switch {
			case a1 != a2:
				rep.Findings = append(rep.Findings, Finding{Kind: "unbalanced", Txn: txn, Detail: fmt.Sprintf("posting spans agencies %s and %s", a1, a2)})
			case c1 != c2:
				rep.Findings = append(rep.Findings, Finding{Kind: "unbalanced", Agency: a1, Txn: txn, Detail: fmt.Sprintf("posting mixes %s and %s", c1, c2)})
			case sum != 0 || n < 2:
				rep.Findings = append(rep.Findings, Finding{Kind: "unbalanced", Agency: a1, Txn: txn, Detail: fmt.Sprintf("%d line(s) summing to %d", n, sum)})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		// Charges per payment, against the payments that succeeded.
		type charge struct {
			agency, currency string
			amount           int64
			txns             map[string]bool
		}
		charges := map[string]*charge{}
		rows, err = tx.QueryContext(ctx, `SELECT payment_id, txn, agency_id, currency, amount FROM ledger_entries WHERE kind = 'charge' AND account = $1`, AccountRevenue)
		if err != nil {
			return err
		}
		for rows.Next() {
			var pid, txn, agency, cur string
			var amt int64
			if err := rows.Scan(&pid, &txn, &agency, &cur, &amt); err != nil {
				rows.Close()
				return err
			}
			c := charges[pid]
			if c == nil {
				c = &charge{agency: agency, currency: cur, txns: map[string]bool{}}
				charges[pid] = c
			}
			c.amount += -amt // revenue is credited
			c.txns[txn] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT id, agency_id, amount, currency FROM payments WHERE status = 'success' ORDER BY id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, agency, cur string
			var amt int64
			if err := rows.Scan(&id, &agency, &amt, &cur); err != nil {
				rows.Close()
				return err
			}
			rep.Payments++
			c := charges[id]
			delete(charges, id)
			switch {
			case c == nil:
				rep.Findings = append(rep.Findings, Finding{Kind: "missing_charge", Agency: agency, Payment: id, Detail: fmt.Sprintf("payment of %d %s succeeded but is not in the ledger", amt, cur)})
			case len(c.txns) > 1:
				rep.Findings = append(rep.Findings, Finding{Kind: "duplicate_charge", Agency: agency, Payment: id, Detail: fmt.Sprintf("%d charge postings", len(c.txns))})
			case c.agency != agency || c.currency != cur || c.amount != amt:
				rep.Findings = append(rep.Findings, Finding{Kind: "charge_mismatch", Agency: agency, Payment: id,
					Detail: fmt.Sprintf("payment is %d %s for %s; the ledger has %d %s for %s", amt, cur, agency, c.amount, c.currency, c.agency)})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		ids := make([]string, 0, len(charges))
		for id := range charges {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			rep.Findings = append(rep.Findings, Finding{Kind: "charge_without_payment", Agency: charges[id].agency, Payment: id, Detail: "the ledger has a charge for a payment that did not succeed"})
		}
		if err := checkRefunds(ctx, tx, &rep); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT agency_id, account, currency, SUM(amount) FROM ledger_entries GROUP BY agency_id, account, currency ORDER BY agency_id, account, currency`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b Balance
			if err := rows.Scan(&b.Agency, &b.Account, &b.Currency, &b.Amount); err != nil {
				return err
			}
			rep.Balances = append(rep.Balances, b)
		}
		return rows.Err()
	})
	if err != nil {
		return Report{}, fmt.Errorf("payment: ledger check: %w", err)
	}
	return rep, nil
}

// checkRefunds proves refund postings against the refunds (Check).
func checkRefunds(ctx context.Context, tx *sql.Tx, rep *Report) error {
	type posted struct {
		agency, currency, payment string
		amount                    int64
		txns                      map[string]bool
	}
	postings := map[string]*posted{}
	rows, err := tx.QueryContext(ctx, `SELECT refund_id, txn, agency_id, currency, payment_id, amount FROM ledger_entries WHERE kind = 'refund' AND account = $1`, AccountRevenue)
	if err != nil {
		return err
	}
	for rows.Next() {
		var rid, txn, agency, cur, pid string
		var amt int64
		if err := rows.Scan(&rid, &txn, &agency, &cur, &pid, &amt); err != nil {
			rows.Close()
			return err
		}
		p := postings[rid]
		if p == nil {
			p = &posted{agency: agency, currency: cur, payment: pid, txns: map[string]bool{}}
			postings[rid] = p
		}
		p.amount += amt // revenue is debited
		p.txns[txn] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	type paid struct {
		agency, status string
		amount, asked  int64
	}
	payments := map[string]*paid{}
	var order []string
	rows, err = tx.QueryContext(ctx, `SELECT r.id, r.payment_id, r.agency_id, r.amount, r.currency, r.status, p.amount, p.status
		FROM payment_refunds r JOIN payments p ON p.id = r.payment_id ORDER BY r.payment_id, r.id`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, pid, agency, cur, status, pstatus string
		var amt, pamt int64
		if err := rows.Scan(&id, &pid, &agency, &amt, &cur, &status, &pamt, &pstatus); err != nil {
			rows.Close()
			return err
		}
		rep.Refunds++
		pp := payments[pid]
		if pp == nil {
			pp = &paid{agency: agency, status: pstatus, amount: pamt}
			payments[pid] = pp
			order = append(order, pid)
		}
		if status != RefundError {
			pp.asked += amt
		}
		p := postings[id]
		delete(postings, id)
		switch {
		case status != RefundSuccess && p != nil:
			rep.Findings = append(rep.Findings, Finding{Kind: "refund_posting_without_success", Agency: agency, Payment: pid, Refund: id,
				Detail: fmt.Sprintf("refund is %s but the ledger has %d %s for it", status, p.amount, p.currency)})
		case status != RefundSuccess:
		case p == nil:
			rep.Findings = append(rep.Findings, Finding{Kind: "missing_refund", Agency: agency, Payment: pid, Refund: id, Detail: fmt.Sprintf("refund of %d %s succeeded but is not in the ledger", amt, cur)})
		case len(p.txns) > 1:
			rep.Findings = append(rep.Findings, Finding{Kind: "duplicate_refund", Agency: agency, Payment: pid, Refund: id, Detail: fmt.Sprintf("%d refund postings", len(p.txns))})
		case p.agency != agency || p.currency != cur || p.amount != amt || p.payment != pid:
			rep.Findings = append(rep.Findings, Finding{Kind: "refund_mismatch", Agency: agency, Payment: pid, Refund: id,
				Detail: fmt.Sprintf("refund is %d %s of payment %s for %s; the ledger has %d %s of payment %s for %s", amt, cur, pid, agency, p.amount, p.currency, p.payment, p.agency)})
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, pid := range order {
		pp := payments[pid]
		switch {
		case pp.asked > 0 && pp.status != string(Success):
			rep.Findings = append(rep.Findings, Finding{Kind: "over_refunded", Agency: pp.agency, Payment: pid, Detail: fmt.Sprintf("payment is %s but has %d in refunds", pp.status, pp.asked)})
		case pp.asked > pp.amount:
			rep.Findings = append(rep.Findings, Finding{Kind: "over_refunded", Agency: pp.agency, Payment: pid, Detail: fmt.Sprintf("refunds of %d exceed the payment of %d", pp.asked, pp.amount)})
		}
	}
	ids := make([]string, 0, len(postings))
	for id := range postings {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := postings[id]
		rep.Findings = append(rep.Findings, Finding{Kind: "refund_without_record", Agency: p.agency, Payment: p.payment, Refund: id, Detail: "the ledger has a refund posting for no refund"})
	}
	return nil
}

// snapshot runs fn in a read-only transaction that sees one state of the
// database: a SQLite read transaction is a snapshot; on PostgreSQL it
// takes repeatable read.
func snapshot(ctx context.Context, db *storage.DB, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Dialect == storage.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.Read().BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}
