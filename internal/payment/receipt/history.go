package receipt

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/payment"
)

// Paid is an agency's payment that paid (some of) a case's fees online:
// what a case's history shows of it.
type Paid struct {
	CheckoutID string // the receipt's id (its page: /pay/receipts/ID)
	PaymentID  string
	Account    string // the person who paid
	Agency     string
	Reference  string
	Amount     int64 // the sum of the case's fees this payment paid
	Currency   string
	LastDigits string
	PaidAt     time.Time
}

// CasePayments returns the successful online payments of the case fees
// whose ids (case_payments.id) are given, one per agency payment, oldest
// first. It reads checkout_items by (kind, source), an index, so its cost
// follows the case, not the number of payments. The caller has authorised
// the case.
func (s *Service) CasePayments(ctx context.Context, casePaymentIDs []string) ([]Paid, error) {
	if len(casePaymentIDs) == 0 {
		return nil, nil
	}
	args := []any{payment.ItemCasePayment}
	marks := make([]string, len(casePaymentIDs))
	for i, id := range casePaymentIDs {
		args = append(args, id)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := s.cfg.DB.Read().QueryContext(ctx, `SELECT i.checkout_id, i.payment_id, c.account_id, p.agency_id, p.reference, i.amount, i.currency, c.last_digits, e.at
		FROM checkout_items i
		JOIN payments p ON p.id = i.payment_id
		JOIN checkouts c ON c.id = i.checkout_id
		JOIN payment_events e ON e.payment_id = i.payment_id AND e.status = 'success'
		WHERE i.kind = $1 AND i.source IN (`+strings.Join(marks, ", ")+`) AND p.status = 'success'
		ORDER BY i.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("receipt: case payments: %w", err)
	}
	defer rows.Close()
	var out []Paid
	byPayment := map[string]int{}
	for rows.Next() {
		var p Paid
		if err := rows.Scan(&p.CheckoutID, &p.PaymentID, &p.Account, &p.Agency, &p.Reference, &p.Amount, &p.Currency, &p.LastDigits, &p.PaidAt); err != nil {
			return nil, fmt.Errorf("receipt: case payments: %w", err)
		}
		p.PaidAt = p.PaidAt.UTC()
		if i, ok := byPayment[p.PaymentID]; ok {
			out[i].Amount += p.Amount
			continue
		}
		byPayment[p.PaymentID] = len(out)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("receipt: case payments: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PaidAt.Before(out[j].PaidAt) })
	return out, nil
}
