package app

import (
	"context"

	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/satisfaction"
	"github.com/portico-gov/portico/internal/tenancy"
)

// surveyCatalog tells the satisfaction block which services are published,
// by whom, and what they are called (public facts of the catalog and
// tenancy blocks).
type surveyCatalog struct {
	catalog *catalog.Service
	tenancy *tenancy.Service
}

func (c surveyCatalog) Service(ctx context.Context, slug string) (satisfaction.Service, error) {
	p, err := c.catalog.Latest(ctx, slug)
	if err != nil {
		return satisfaction.Service{}, err
	}
	return c.of(ctx, p), nil
}

func (c surveyCatalog) List(ctx context.Context, agency string) ([]satisfaction.Service, error) {
	ps, err := c.catalog.List(ctx, agency)
	if err != nil {
		return nil, err
	}
	out := make([]satisfaction.Service, 0, len(ps))
	for _, p := range ps {
		out = append(out, c.of(ctx, p))
	}
	return out, nil
}

func (c surveyCatalog) of(ctx context.Context, p catalog.Published) satisfaction.Service {
	s := satisfaction.Service{ID: p.ID, AgencyID: p.AgencyID, Agency: satisfaction.Text{EN: p.AgencyID}}
	if p.Manifest != nil {
		s.Title = satisfaction.Text{EN: p.Manifest.Title.EN, ES: p.Manifest.Title.ES}
	}
	if s.Title.EN == "" {
		s.Title.EN = p.ID
	}
	// A missing agency (deleted after publishing) leaves its id as its name.
	if a, err := c.tenancy.Agency(ctx, p.AgencyID); err == nil {
		s.Agency = satisfaction.Text{EN: a.Name, ES: a.NameES}
	}
	return s
}

// paidService is the service a paid checkout paid a case's fee for (the
// first such item), for the satisfaction survey the payment's result page
// offers; "" when it paid no case fee (an obligation, an agency's own
// payment) or the case cannot be found.
func (a *App) paidService(ctx context.Context, c payment.Checkout) string {
	for _, it := range c.Items {
		if it.Kind != payment.ItemCasePayment {
			continue
		}
		caseID, _, err := a.Casework.CaseOfPayment(ctx, it.Source)
		if err != nil {
			continue
		}
		if k, err := a.Casework.Case(ctx, caseID); err == nil {
			return k.ServiceID
		}
	}
	return ""
}
