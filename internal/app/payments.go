package app

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/payment"
)

// paidFees adapts the payment block to casework.PaidFees: the fee
// requests (case_payment items) a successful payment paid.
type paidFees struct{ p *payment.Service }

func (f paidFees) PaidFees(ctx context.Context, paymentID string) ([]casework.PaidFee, error) {
	items, err := f.p.PaidItems(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	var out []casework.PaidFee
	for _, it := range items {
		if it.Kind != payment.ItemCasePayment {
			continue
		}
		id, err := strconv.ParseInt(it.Source, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, casework.PaidFee{FeeID: id, Amount: it.Amount, Currency: it.Currency, PaymentID: it.PaymentID})
	}
	return out, nil
}

// paidObligations adapts the payment block to reminder.PaidObligations.
type paidObligations struct{ p *payment.Service }

func (o paidObligations) PaidObligations(ctx context.Context, paymentID string) ([]string, error) {
	items, err := o.p.PaidItems(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, it := range items {
		if it.Kind == payment.ItemObligation {
			out = append(out, it.Source)
		}
	}
	return out, nil
}

// counterClaims adapts the payment block to casework.CounterClaims: a
// counter payment takes its fees from online checkouts. It reads
// a.Payments when called, because casework is built before payments.
type counterClaims struct{ a *App }

func (c counterClaims) ClaimFees(ctx context.Context, tx *sql.Tx, fees []int64, by string) error {
	if c.a.Payments == nil {
		return nil
	}
	sources := make([]string, len(fees))
	for i, id := range fees {
		sources[i] = strconv.FormatInt(id, 10)
	}
	err := c.a.Payments.ClaimForCounter(ctx, tx, payment.ItemCasePayment, sources, by)
	switch {
	case errors.Is(err, payment.ErrPayingOnline):
		return casework.ErrFeePayingOnline
	case errors.Is(err, payment.ErrPaidOnline):
		return casework.ErrFeePaidOnline
	}
	return err
}

// duplicateRefunds adapts the payment block to casework.DuplicateRefunds.
type duplicateRefunds struct{ a *App }

func (d duplicateRefunds) RefundDuplicate(ctx context.Context, tx *sql.Tx, paymentID string, feeID, amount int64, reason string) error {
	_, err := d.a.Payments.RefundDuplicate(ctx, tx, paymentID, "case_payment:"+strconv.FormatInt(feeID, 10), amount, reason)
	var rp *payment.RefundProblem
	if errors.As(err, &rp) {
		return casework.ErrNothingToRefund
	}
	return err
}
