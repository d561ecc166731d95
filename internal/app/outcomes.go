package app

import (
	"context"
	"strings"

	"github.com/portico-gov/portico/internal/outcome"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
)

// outcomeDirectory answers the outcome consumer's questions from the
// blocks that own the answers: an agency's level of government (tenancy)
// and the services a payment paid for (payment's checkout items; a case
// fee's case, an obligation's case, in casework and reminder). It reads
// the App's fields when called: the payment block is built after the
// outcome block.
type outcomeDirectory struct{ a *App }

var _ outcome.Directory = outcomeDirectory{}

// Level is the kind of the agency's jurisdiction; "" for an agency the
// tenancy block does not know (its measures then have no level roll-up).
func (d outcomeDirectory) Level(ctx context.Context, agency string) (string, error) {
	if agency == "" {
		return "", nil
	}
	ag, err := d.a.Tenancy.Agency(ctx, agency)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	j, err := d.a.Tenancy.Jurisdiction(ctx, ag.JurisdictionID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(j.Kind), nil
}

// PaymentServices splits a payment by service: a case fee belongs to the
// case's service; an amount owed to the service of the case that set it
// ("case:ID/…"); an agency's own API payment, or an obligation no case
// set (a tax instalment imported from the agency's system), to no
// service ("").
func (d outcomeDirectory) PaymentServices(ctx context.Context, paymentID string) ([]outcome.PaymentShare, error) {
	if d.a.Payments == nil {
		return nil, nil
	}
	items, err := d.a.Payments.ItemsOf(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	out := make([]outcome.PaymentShare, 0, len(items))
	for _, it := range items {
		svc, err := d.serviceOf(ctx, it)
		if err != nil {
			return nil, err
		}
		out = append(out, outcome.PaymentShare{Service: svc, Amount: it.Amount})
	}
	return out, nil
}

func (d outcomeDirectory) serviceOf(ctx context.Context, it payment.PaidItem) (string, error) {
	caseID := ""
	switch it.Kind {
	case payment.ItemCasePayment:
		id, _, err := d.a.Casework.CaseOfPayment(ctx, it.Source)
		if platform.ErrorCode(err) == platform.CodeNotFound {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		caseID = id
	case payment.ItemObligation:
		_, source, err := d.a.Reminders.SourceOf(ctx, it.Source)
		if platform.ErrorCode(err) == platform.CodeNotFound {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		rest, ok := strings.CutPrefix(source, "case:")
		if !ok {
			return "", nil
		}
		caseID, _, _ = strings.Cut(rest, "/")
	default:
		return "", nil
	}
	svc, err := d.a.Casework.ServiceOf(ctx, caseID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return "", nil
	}
	return svc, err
}
