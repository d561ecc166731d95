package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// The finance policy: who sees an agency's payments and who refunds them
// (the staff console, internal/payment/financeweb). Roles are named as the
// identity block names them (this block does not import it).
//
//   - finance staff and agency administrators of the agency read its
//     payments and reports and refund;
//   - auditors of the agency read, and never refund;
//   - caseworkers of the agency are forbidden: they see a case's fee on
//     the case, not every payer's email and card outcome across the
//     agency (need to know);
//   - platform administrators read every agency's payments (they answer
//     for the platform's books), and never refund: refunding is the
//     agency's decision, made by its own finance staff;
//   - anyone else (staff of another agency, citizens, clients, anonymous)
//     is told not found, so payment ids do not leak.
const (
	roleFinance     = "finance"
	roleAgencyAdmin = "agency_admin"
	roleAuditor     = "auditor"
)

// MayReadFinance says whether actor may read agency's payments, refunds
// and reports: nil, forbidden (staff of the agency without a finance
// role) or not found.
func MayReadFinance(actor platform.Actor, agency string) error {
	switch {
	case actor.Kind == platform.ActorStaff && actor.PlatformAdmin:
		return nil
	case actor.HasRole(agency, roleFinance, roleAgencyAdmin, roleAuditor):
		return nil
	case actor.HasRole(agency):
		return platform.Errorf(platform.CodeForbidden, "only finance staff, agency administrators and auditors see the agency's payments")
	case actor.Kind == platform.ActorAnonymous || !actor.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	return platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
}

// MayRefund says whether actor may refund agency's payments: finance
// staff and agency administrators of the agency only.
func MayRefund(actor platform.Actor, agency string) error {
	if actor.HasRole(agency, roleFinance, roleAgencyAdmin) {
		return nil
	}
	if err := MayReadFinance(actor, agency); err != nil {
		return err
	}
	return platform.Errorf(platform.CodeForbidden, "only the agency's finance staff and administrators refund payments")
}

// FinanceAgencies lists the agencies whose payments actor may read, in
// grant order; all is true for a platform administrator, who may read
// every agency's (the caller lists them).
func FinanceAgencies(actor platform.Actor) (agencies []string, all bool) {
	if actor.Kind == platform.ActorStaff && actor.PlatformAdmin {
		return nil, true
	}
	for _, ag := range actor.Agencies() {
		if actor.HasRole(ag, roleFinance, roleAgencyAdmin, roleAuditor) {
			agencies = append(agencies, ag)
		}
	}
	return agencies, false
}

// Filter narrows an agency's payments for the console's list.
type Filter struct {
	Agency string // required
	// From and To bound created_at: From <= created_at < To. The zero time
	// leaves that side open. The console turns the dates typed in the
	// jurisdiction's zone into these instants.
	From, To  time.Time
	Status    Status // "" for every status
	Reference string // exact match; "" for any
	Email     string // exact match ignoring case; "" for any
	// After is the id of the last payment of the previous page ("" for
	// the first page): the list continues after it in (created_at, id)
	// order, newest first. Keyset paging: a page costs the same however
	// deep it is.
	After string
	Limit int // 1..MaxPage; 0 = DefaultPage
}

// Page sizes of List.
const (
	DefaultPage = 25
	MaxPage     = 100
)

// Listed is one page of List.
type Listed struct {
	Payments []Payment
	// Next is the After of the next page, "" when this is the last.
	Next string
}

// check validates f and fills its defaults.
func (f *Filter) check() error {
	if f.Agency == "" {
		return platform.Invalid("agency", "choose an agency")
	}
	if f.Status != "" && !f.Status.Valid() {
		return platform.Invalid("status", fmt.Sprintf("%q is not a payment status", f.Status))
	}
	for _, v := range []struct{ field, s string }{{"reference", f.Reference}, {"email", f.Email}, {"after", f.After}} {
		if !utf8.ValidString(v.s) || len(v.s) > MaxReference {
			return platform.Invalid(v.field, "too long")
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return platform.Invalid("to", "the end of the range is before its start")
	}
	switch {
	case f.Limit == 0:
		f.Limit = DefaultPage
	case f.Limit < 0 || f.Limit > MaxPage:
		return platform.Invalid("limit", fmt.Sprintf("a page holds 1 to %d payments", MaxPage))
	}
	return nil
}

// List returns a page of agency f.Agency's payments for actor, newest
// first, and audits the listing (payment.list.read, with the filter and
// how many were shown: the list shows payers' email addresses).
func (s *Service) List(ctx context.Context, actor platform.Actor, f Filter) (Listed, error) {
	if err := MayReadFinance(actor, f.Agency); err != nil {
		return Listed{}, err
	}
	if err := f.check(); err != nil {
		return Listed{}, err
	}
	out, err := s.list(ctx, f)
	if err != nil {
		return Listed{}, err
	}
	detail := map[string]any{"count": len(out.Payments)}
	for k, v := range map[string]string{"status": string(f.Status), "reference": f.Reference, "email": f.Email, "after": f.After} {
		if v != "" {
			detail[k] = v
		}
	}
	if !f.From.IsZero() {
		detail["from"] = f.From.UTC().Format(time.RFC3339)
	}
	if !f.To.IsZero() {
		detail["to"] = f.To.UTC().Format(time.RFC3339)
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "payment.list.read", Subject: "agency:" + f.Agency,
		AgencyID: f.Agency, Detail: detail}); err != nil {
		return Listed{}, err
	}
	return out, nil
}

func (s *Service) list(ctx context.Context, f Filter) (Listed, error) {
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE agency_id = $1`
	args := []any{f.Agency}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !f.From.IsZero() {
		q += ` AND created_at >= ` + arg(f.From.UTC())
	}
	if !f.To.IsZero() {
		q += ` AND created_at < ` + arg(f.To.UTC())
	}
	if f.After != "" {
		// The cursor is a payment of the same agency: its (created_at, id)
		// bounds the page. The first condition is the index range; the
		// second breaks ties between payments created in the same instant.
		var at time.Time
		err := s.db.Read().QueryRowContext(ctx, `SELECT created_at FROM payments WHERE id = $1 AND agency_id = $2`, f.After, f.Agency).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			return Listed{}, platform.Invalid("after", "the page to continue from does not exist")
		}
		if err != nil {
			return Listed{}, fmt.Errorf("payment: list: %w", err)
		}
		a, id := arg(at.UTC()), arg(f.After)
		q += ` AND created_at <= ` + a + ` AND (created_at < ` + a + ` OR id < ` + id + `)`
	}
	if f.Status != "" {
		q += ` AND status = ` + arg(string(f.Status))
	}
	if f.Reference != "" {
		q += ` AND reference = ` + arg(f.Reference)
	}
	if f.Email != "" {
		q += ` AND LOWER(email) = ` + arg(strings.ToLower(strings.TrimSpace(f.Email)))
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(f.Limit+1)
	var out Listed
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		pays, err := queryPayments(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		if len(pays) > f.Limit {
			pays = pays[:f.Limit]
			out.Next = pays[len(pays)-1].ID
		}
		out.Payments = pays
		return nil
	})
	if err != nil {
		return Listed{}, fmt.Errorf("payment: list: %w", err)
	}
	return out, nil
}

// PostingLine is one line of the ledger.
type PostingLine struct {
	Txn      string
	Kind     string
	Account  string
	Amount   int64 // debit > 0, credit < 0
	Currency string
	At       time.Time
}

// Detail is everything the console shows of one payment.
type Detail struct {
	Payment
	// Account is the person who paid through a checkout ("" for an
	// agency's API payment).
	Account string
	// ProviderRef is the provider's reference of the charge (the
	// checkout's).
	ProviderRef string
	CardBrand   string
	LastDigits  string
	History     []HistoryEntry
	Items       []Item // what the payment paid for (its share of the checkout)
	Refunds     []Refund
	Postings    []PostingLine
	// Refunded is the sum of refunds not in error (submitted or
	// succeeded); Available is what may still be refunded: the amount of
	// a successful payment less Refunded, 0 for any other.
	Refunded  int64
	Available int64
}

// View returns payment id with its history, items, refunds and ledger
// postings for actor, and audits the read (payment.read, naming the
// payer's account when there is one: the payment holds their email).
// A payment of an agency actor may not read is not found.
func (s *Service) View(ctx context.Context, actor platform.Actor, id string) (Detail, error) {
	d, err := s.detail(ctx, id)
	if errors.Is(err, errNoPayment) {
		if e := MayReadFinance(actor, ""); platform.ErrorCode(e) == platform.CodeUnauthorized {
			return Detail{}, e
		}
		return Detail{}, platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
	}
	if err != nil {
		return Detail{}, err
	}
	if err := MayReadFinance(actor, d.Agency); err != nil {
		return Detail{}, err
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "payment.read", Subject: "payment:" + d.ID, AgencyID: d.Agency,
		Person: othersRead(actor, d.Account), Detail: map[string]any{"reference": d.Reference}}); err != nil {
		return Detail{}, err
	}
	return d, nil
}

// othersRead is the person whose data the read touches, for the audit
// entry's person column, unless they are reading their own.
func othersRead(actor platform.Actor, account string) string {
	if account == "" || actor.IsCitizen(account) {
		return ""
	}
	return account
}

var errNoPayment = errors.New("payment: no such payment")

func (s *Service) detail(ctx context.Context, id string) (Detail, error) {
	var d Detail
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		p, err := get(ctx, tx, id)
		if platform.ErrorCode(err) == platform.CodeNotFound {
			return errNoPayment
		}
		if err != nil {
			return err
		}
		d.Payment = p
		if p.Checkout != "" {
			err := tx.QueryRowContext(ctx, `SELECT account_id, provider_ref, card_brand, last_digits FROM checkouts WHERE id = $1`, p.Checkout).
				Scan(&d.Account, &d.ProviderRef, &d.CardBrand, &d.LastDigits)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT status, code, at FROM payment_events WHERE payment_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var st, code string
			var at time.Time
			if err := rows.Scan(&st, &code, &at); err != nil {
				rows.Close()
				return err
			}
			d.History = append(d.History, HistoryEntry{State: StateOf(Status(st), code), At: at.UTC()})
		}
		if err := rows.Close(); err != nil {
			return err
		}
		// Through the checkout's index: items are found by their checkout.
		rows, err = tx.QueryContext(ctx, `SELECT kind, source, agency_id, amount, currency, description_en, description_es FROM checkout_items WHERE checkout_id = $1 AND payment_id = $2 ORDER BY id`, p.Checkout, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			it := Item{PaymentID: id, Reference: p.Reference}
			if err := rows.Scan(&it.Kind, &it.Source, &it.Agency, &it.Amount, &it.Currency, &it.DescriptionEN, &it.DescriptionES); err != nil {
				rows.Close()
				return err
			}
			d.Items = append(d.Items, it)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT id, agency_id, amount, currency, status, reason, actor, created_at FROM payment_refunds WHERE payment_id = $1 ORDER BY created_at, id`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			r := Refund{PaymentID: id}
			if err := rows.Scan(&r.ID, &r.Agency, &r.Amount, &r.Currency, &r.Status, &r.Reason, &r.Actor, &r.CreatedAt); err != nil {
				rows.Close()
				return err
			}
			r.CreatedAt = r.CreatedAt.UTC()
			if r.Status != RefundError {
				d.Refunded += r.Amount
			}
			d.Refunds = append(d.Refunds, r)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT txn, kind, account, amount, currency, at FROM ledger_entries WHERE payment_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l PostingLine
			if err := rows.Scan(&l.Txn, &l.Kind, &l.Account, &l.Amount, &l.Currency, &l.At); err != nil {
				return err
			}
			l.At = l.At.UTC()
			d.Postings = append(d.Postings, l)
		}
		return rows.Err()
	})
	if err != nil {
		if errors.Is(err, errNoPayment) {
			return Detail{}, err
		}
		return Detail{}, fmt.Errorf("payment: detail: %w", err)
	}
	d.Available = SummarizeRefunds(d.Payment, d.Refunded).Available
	return d, nil
}

// HasReference reports whether agency has a payment with reference: for
// the demo's seeding, which adds its payments once. Unaudited: it reveals
// nothing about anyone.
func (s *Service) HasReference(ctx context.Context, agency, reference string) (bool, error) {
	var n int
	err := s.db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE agency_id = $1 AND reference = $2`, agency, reference).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("payment: has reference: %w", err)
	}
	return n > 0, nil
}

// statusOrder lists the statuses in the order the console offers them.
var statusOrder = []Status{Created, Started, Submitted, Capturable, Success, Failed, Cancelled, Error}

// Statuses lists every payment status, in the order of a payment's life.
func Statuses() []Status { return slices.Clone(statusOrder) }
