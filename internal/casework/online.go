package casework

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/platform"
)

// Fees paid online (issue 12): the payment block's checkout pays a
// case's fee requests (case_payments rows); when a payment succeeds, the
// consumer below marks what it paid, as the counter does (RecordPayment),
// so the workflow's payment.paid guards see it and the case moves on.

// PaymentsConsumer is the events consumer that records fees paid online.
const PaymentsConsumer = "casework.payments"

// EventPaymentSucceeded is the payment block's event a consumer of paid
// fees listens to (payment.EventSucceeded).
const EventPaymentSucceeded = "gov.portico.payment.succeeded"

// PaidBy is case_payments.paid_by for a fee paid online.
const PaidBy = "online"

// PaidFee is a fee request an online payment paid.
type PaidFee struct {
	FeeID     int64  // case_payments.id
	Amount    int64  // minor units, as the checkout charged it
	Currency  string //
	PaymentID string // the payment that paid it (paid_ref)
}

// PaidFees is what casework needs of the payment block: the fee requests
// a successful payment paid (none for a payment that did not succeed).
type PaidFees interface {
	PaidFees(ctx context.Context, paymentID string) ([]PaidFee, error)
}

// onlineActor is who records a fee paid online in the timeline and audit.
var onlineActor = platform.Actor{Kind: platform.ActorSystem, ID: "payment.online"}

// PaymentConsumer returns the consumer that marks the fees each
// successful payment paid: paid_at, paid_amount, paid_by "online" and
// paid_ref the payment id, with the timeline entry, audit, event, email
// and the workflow's automatic step, in one transaction with the event's
// receipt (events.Once), so a repeated delivery changes nothing. A fee
// already paid (at the counter meanwhile) is left as it is. Subscribe it
// to the bus (internal/app).
func (s *Service) PaymentConsumer(paid PaidFees) events.Consumer {
	return events.Consumer{Name: PaymentsConsumer, Types: []string{EventPaymentSucceeded}, Handle: func(ctx context.Context, e events.Event) error {
		var data struct {
			PaymentID string `json:"payment_id"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil || data.PaymentID == "" {
			return fmt.Errorf("casework: payment event %s without a payment id: %v", e.ID, err)
		}
		fees, err := paid.PaidFees(ctx, data.PaymentID)
		if err != nil || len(fees) == 0 {
			return err
		}
		ctx = platform.WithActor(ctx, onlineActor)
		return events.Once(ctx, s.db, PaymentsConsumer, e.ID, s.clock.Now().UTC(), func(tx *sql.Tx) error {
			for _, f := range fees {
				if err := s.paidOnline(ctx, tx, f); err != nil {
					return err
				}
			}
			return nil
		})
	}}
}

// DuplicateRefunds is what casework needs of the payment block when a
// fee is paid twice: the online payment's share for the fee refunded in
// tx (the consumer's transaction, so once), with reason shown to finance.
type DuplicateRefunds interface {
	RefundDuplicate(ctx context.Context, tx *sql.Tx, paymentID string, feeID, amount int64, reason string) error
}

// ErrNothingToRefund is what DuplicateRefunds answers when the payment
// has nothing left to give back (finance refunded it already).
var ErrNothingToRefund = errors.New("casework: the payment has nothing left to refund")

// paidTwice handles an online payment of fee f, which was already paid:
// the same payment again (a replayed event) changes nothing; another
// payment (the counter recorded it while the person paid online, a race
// claims cannot close once the card is taken) is a double payment. The
// online payment's share is refunded automatically (Deps.Duplicates)
// with a reason finance sees on the payment, and the case's staff
// timeline and the audit log say so.
func (s *Service) paidTwice(ctx context.Context, tx *sql.Tx, c Case, f PaidFee) error {
	var paidBy, paidRef string
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(paid_by, ''), COALESCE(paid_ref, '') FROM case_payments WHERE id = $1`, f.FeeID).Scan(&paidBy, &paidRef); err != nil {
		return fmt.Errorf("casework: paid twice: %w", err)
	}
	if paidBy == PaidBy && paidRef == f.PaymentID {
		return nil // this payment, recorded already
	}
	m := i18n.Messages().For(i18n.English, nil)
	reason := fmt.Sprintf("Paid twice: the fee of case %s was already paid (%s, receipt %q); this online payment's %s for it is refunded automatically.",
		c.Reference, paidBy, paidRef, m.MoneyOf(f.Amount, f.Currency))
	refunded := "requested"
	if s.deps.Duplicates == nil {
		refunded = "not requested: refund it from the finance console"
	} else if err := s.deps.Duplicates.RefundDuplicate(ctx, tx, f.PaymentID, f.FeeID, f.Amount, reason); errors.Is(err, ErrNothingToRefund) {
		refunded = "not possible: nothing is left to refund"
	} else if err != nil {
		return err
	}
	detail := map[string]any{"action": "payment_duplicate", "amount": f.Amount, "currency": f.Currency, "ref": f.PaymentID, "paid_by": paidBy, "paid_ref": paidRef, "refund": refunded}
	if err := s.entry(ctx, tx, c.ID, "message", true, "", detail); err != nil {
		return err
	}
	_, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.payment.duplicate", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Detail: map[string]any{"reference": c.Reference, "amount": f.Amount, "payment": f.PaymentID, "fee": strconv.FormatInt(f.FeeID, 10),
			"paid_by": paidBy, "paid_ref": paidRef, "refund": refunded}})
	return err
}

// paidOnline marks fee f paid in tx and does what a counter payment does.
func (s *Service) paidOnline(ctx context.Context, tx *sql.Tx, f PaidFee) error {
	var caseID string
	err := tx.QueryRowContext(ctx, `SELECT case_id FROM case_payments WHERE id = $1`, f.FeeID).Scan(&caseID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("casework: paid online: no fee request %d", f.FeeID)
	}
	if err != nil {
		return fmt.Errorf("casework: paid online: %w", err)
	}
	c, err := s.lockCase(ctx, tx, caseID)
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	res, err := tx.ExecContext(ctx, `UPDATE case_payments SET paid_at = $2, paid_amount = $3, paid_by = $4, paid_ref = $5
		WHERE id = $1 AND paid_at IS NULL`, f.FeeID, now, f.Amount, PaidBy, f.PaymentID)
	if err != nil {
		return fmt.Errorf("casework: paid online: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("casework: paid online: %w", err)
	} else if n == 0 {
		return s.paidTwice(ctx, tx, c, f)
	}
	if err := s.paidObligations(ctx, tx, c, []int64{f.FeeID}); err != nil {
		return err
	}
	detail := map[string]any{"action": "payment_recorded", "amount": f.Amount, "currency": f.Currency, "ref": f.PaymentID, "online": true}
	if err := s.entry(ctx, tx, c.ID, "message", false, "", detail); err != nil {
		return err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "case.payment.online", Subject: "case:" + c.ID, AgencyID: c.AgencyID,
		Detail: map[string]any{"reference": c.Reference, "amount": f.Amount, "payment": f.PaymentID, "fee": strconv.FormatInt(f.FeeID, 10)}}); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, c, EventPaymentRecorded, detail); err != nil {
		return err
	}
	m := i18n.Messages()
	if err := s.mailTexts(ctx, tx, c, "mail.payment", manifest.Text{EN: m.For(i18n.English, nil).MoneyOf(f.Amount, f.Currency),
		ES: m.For(i18n.Spanish, nil).MoneyOf(f.Amount, f.Currency)}); err != nil {
		return err
	}
	if c.ClosedAt != nil {
		return nil // paid as the case closed: recorded, nothing to move
	}
	c.UpdatedAt = now
	if err := s.save(ctx, tx, c); err != nil {
		return err
	}
	_, err = s.automatic(ctx, tx, c)
	return err
}
