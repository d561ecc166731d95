package reminder

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portico-gov/portico/internal/events"
)

// Obligations paid online (issue 12): a person's checkout pays open
// obligations with an amount (a property-tax instalment); when the
// payment succeeds, the consumer below marks them done.

// PaymentsConsumer is the events consumer that completes paid obligations.
const PaymentsConsumer = "reminder.payments"

// EventPaymentSucceeded is the payment block's event (payment.EventSucceeded).
const EventPaymentSucceeded = "gov.portico.payment.succeeded"

// PaidObligations is what the reminder block needs of the payment block:
// the ids of the obligations a successful payment paid (none for a
// payment that did not succeed).
type PaidObligations interface {
	PaidObligations(ctx context.Context, paymentID string) ([]string, error)
}

// PaymentConsumer returns the consumer that marks done the obligations
// each successful payment paid, in one transaction with the event's
// receipt (events.Once): a repeated delivery changes nothing, and an
// obligation no longer open is left as it is. Subscribe it to the bus
// (internal/app).
func (s *Service) PaymentConsumer(paid PaidObligations) events.Consumer {
	return events.Consumer{Name: PaymentsConsumer, Types: []string{EventPaymentSucceeded}, Handle: func(ctx context.Context, e events.Event) error {
		var data struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil || data.PaymentID == "" {
			return fmt.Errorf("reminder: payment event %s without a payment id: %v", e.ID, err)
		}
		ids, err := paid.PaidObligations(ctx, data.PaymentID)
		if err != nil || len(ids) == 0 {
			return err
		}
		return events.Once(ctx, s.db, PaymentsConsumer, e.ID, s.clock.Now().UTC(), func(tx *sql.Tx) error {
			for _, id := range ids {
				var account, source string
				err := tx.QueryRowContext(ctx, `SELECT account_id, source FROM obligations WHERE id = $1`, id).Scan(&account, &source)
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("reminder: paid obligation %s does not exist", id)
				}
				if err != nil {
					return fmt.Errorf("reminder: paid obligation: %w", err)
				}
				if err := s.close(ctx, tx, account, source, StatusDone); err != nil {
					return err
				}
			}
			return nil
		})
	}}
}
