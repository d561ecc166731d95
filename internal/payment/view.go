package payment

import (
	"context"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
)

// ValidID reports whether id has the shape of a payment or checkout id
// (newID), so an id of another shape is not found without a query.
func ValidID(id string) bool { return validID(id) }

func validID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

var errNoCheckout = platform.Errorf(platform.CodeNotFound, "payment.checkout.notfound")

// ViewCheckout returns checkout id to actor, for the payment pages. A
// person's checkout is theirs alone: anyone not signed in is
// CodeUnauthorized (sent to sign in), anyone else (staff and
// administrators included) CodeNotFound; their read is audited
// ("payment.checkout.read"). An agency's API payment has no account:
// whoever holds its unguessable id may use its pages, as on GOV.UK Pay,
// and nobody's data is read.
func (s *Service) ViewCheckout(ctx context.Context, actor platform.Actor, id string) (Checkout, error) {
	if !validID(id) {
		return Checkout{}, errNoCheckout
	}
	c, err := s.Checkout(ctx, id)
	if err != nil {
		return Checkout{}, err
	}
	if c.Account == "" {
		return c, nil
	}
	if !actor.SignedIn() {
		return Checkout{}, platform.Errorf(platform.CodeUnauthorized, "identity.signin.required")
	}
	if actor.ID != c.Account {
		return Checkout{}, errNoCheckout
	}
	if _, err := s.audit.Write(platform.WithActor(ctx, actor), audit.Record{Action: "payment.checkout.read", Subject: "checkout:" + c.ID,
		Detail: map[string]any{"status": string(c.State.Status), "amount": c.Amount}}); err != nil {
		return Checkout{}, err
	}
	return c, nil
}
