package app

import (
	"context"
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
