package payment

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// CardDetails is what the provider reported about the card a payment was paid
// with (GOV.UK Pay's card_details). Brand is the provider's spelling
// ("visa", "mastercard"); the rest are empty when unknown.
type CardDetails struct {
	Brand          string
	LastDigits     string
	FirstDigits    string
	CardholderName string
	ExpiryDate     string // MM/YY
	Type           string // debit or credit
}

// Entered reports whether a card was entered for the payment.
func (c CardDetails) Entered() bool { return c.LastDigits != "" }

// APIDetail is what a payment's GOV.UK Pay representation needs besides the
// payment row: the sum of its refunds not in error, its card, and when
// it was captured (moved to success; zero until then).
type APIDetail struct {
	Refunded   int64
	Card       CardDetails
	CapturedAt time.Time
}

// APIDetails returns the APIDetail of each of ids (payments of any agency: the
// caller has read them already, scoped to its agency) in three queries
// for any number of payments, from one snapshot, so a page of a search
// costs what one payment does. An id without refunds, card or capture
// has the zero APIDetail.
func (s *Service) APIDetails(ctx context.Context, ids []string) (map[string]APIDetail, error) {
	out := make(map[string]APIDetail, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i] = id
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	in := "(" + strings.Join(marks, ", ") + ")"
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		each := func(query string, scan func(rows *sql.Rows) error) error {
			rows, err := tx.QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}
		if err := each(`SELECT payment_id, SUM(amount) FROM payment_refunds WHERE payment_id IN `+in+` AND status <> 'error' GROUP BY payment_id`,
			func(rows *sql.Rows) error {
				var id string
				var n int64
				if err := rows.Scan(&id, &n); err != nil {
					return err
				}
				d := out[id]
				d.Refunded = n
				out[id] = d
				return nil
			}); err != nil {
			return err
		}
		if err := each(`SELECT p.id, c.card_brand, c.last_digits, c.first_digits, c.cardholder_name, c.card_expiry, c.card_type
			FROM payments p JOIN checkouts c ON c.id = p.checkout_id WHERE p.id IN `+in,
			func(rows *sql.Rows) error {
				var id string
				var c CardDetails
				if err := rows.Scan(&id, &c.Brand, &c.LastDigits, &c.FirstDigits, &c.CardholderName, &c.ExpiryDate, &c.Type); err != nil {
					return err
				}
				d := out[id]
				d.Card = c
				out[id] = d
				return nil
			}); err != nil {
			return err
		}
		// A payment reaches success once (it is final); no MIN(at): an
		// aggregate loses the column's time type on SQLite.
		return each(`SELECT payment_id, at FROM payment_events WHERE payment_id IN `+in+` AND status = 'success'`,
			func(rows *sql.Rows) error {
				var id string
				var at time.Time
				if err := rows.Scan(&id, &at); err != nil {
					return err
				}
				d := out[id]
				d.CapturedAt = at.UTC()
				out[id] = d
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("payment: details: %w", err)
	}
	return out, nil
}
