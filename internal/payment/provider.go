package payment

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Provider takes the money for a checkout: one charge of the checkout's
// total at a payment service provider (the built-in sandbox, Stripe).
// Portico never sees a card number of a live payment; the provider's own
// page (or the sandbox's clearly labelled test page) takes it.
//
// Contract: every method may be called again after a crash or a timeout
// with the same arguments and must not charge or refund twice (Start is
// keyed by the checkout id, Refund by the refund id); Status is the truth
// the return page, the webhook and the settle sweep all act on.
type Provider interface {
	// Name is the provider's name as payments record it ("sandbox",
	// "stripe").
	Name() string
	// Start asks for a charge and says where to send the payer.
	Start(ctx context.Context, c Charge) (Begun, error)
	// Status reads the charge's true state from the provider.
	Status(ctx context.Context, ref string) (Outcome, error)
	// Capture takes a charge authorised with delayed capture.
	Capture(ctx context.Context, ref string) error
	// Cancel cancels a charge that has not been taken.
	Cancel(ctx context.Context, ref string) error
	// Refund gives back amount (minor units) of charge ref; key (the
	// refund's id) makes a retried call one refund.
	Refund(ctx context.Context, ref string, amount int64, currency, key string) (RefundOutcome, error)
}

// Finder is a Provider that can find the charge it made for a checkout
// by the checkout's id. The settle sweep asks it about an expired
// checkout that has no provider reference: a process that died after
// the provider made the charge and before Portico recorded it leaves
// such a checkout, and its charge must be cancelled at the provider, not
// left open. A provider without it (Stripe) closes such a charge itself
// (the session's own expiry); its payer never had the page's address.
type Finder interface {
	// Find returns the reference of checkout's charge, or "" when the
	// provider made none.
	Find(ctx context.Context, checkout string) (string, error)
}

// Charge is what a provider is asked to take.
type Charge struct {
	Checkout       string // the checkout's id: the idempotency key of Start
	Amount         int64  // minor units, the checkout's total
	Currency       string // ISO 4217
	Description    string
	Email          string // may be empty
	Language       string // en or es, for the provider's page
	ReturnURL      string // Portico's absolute return page for this checkout
	DelayedCapture bool
	Live           bool
	// Expires is when Portico fails the checkout (its expires_at; zero
	// when unknown). A provider that must send an expiry derives it from
	// this, never from the time of the call, so a Start repeated after a
	// crash sends the same request as the first (a provider's
	// idempotency refuses a key reused with other parameters).
	Expires time.Time
}

// Begun is a charge the provider accepted: its reference and the page
// the payer goes to next.
type Begun struct {
	Ref     string
	NextURL string
}

// Outcome is a charge's state at the provider, in GOV.UK Pay's statuses:
// Created or Started while the payer has not finished, Submitted while the
// provider decides, Capturable, Success, or Failed/Cancelled/Error with
// their code.
type Outcome struct {
	Status     Status
	Code       string
	CardBrand  string // "visa", "mastercard", … (empty if unknown)
	LastDigits string // the card's last four digits (empty if unknown)
	// The rest of GOV.UK Pay's card_details, each empty if unknown: the
	// first six digits, the name typed as the cardholder's, the expiry
	// date ("MM/YY") and the card type ("debit" or "credit").
	FirstDigits    string
	CardholderName string
	ExpiryDate     string
	CardType       string
}

// RefundOutcome is what a provider said about a refund: submitted (it
// will settle later), success, or error (nothing was refunded).
type RefundOutcome struct {
	Ref    string
	Status string
}

// ErrProviderUnavailable wraps a provider failure that may pass (a
// timeout, a 5xx): the caller keeps the payment as it is and tries again.
var ErrProviderUnavailable = errors.New("payment: the payment provider is not answering")

// Register makes p available to checkouts by its name. Call it while the
// program is wired, before any request.
func (s *Service) Register(p Provider) {
	if s.providers == nil {
		s.providers = map[string]Provider{}
	}
	s.providers[p.Name()] = p
}

// Provider returns the provider named name.
func (s *Service) Provider(name string) (Provider, error) {
	p, ok := s.providers[name]
	if !ok {
		return nil, fmt.Errorf("payment: no payment provider %q is configured", name)
	}
	return p, nil
}

// Providers lists the configured providers' names, sorted.
func (s *Service) Providers() []string {
	out := make([]string, 0, len(s.providers))
	for n := range s.providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// pathTo is the shortest chain of transitions from from to to (excluding
// from), or nil when to cannot be reached: a provider reports where a
// charge is now, and the payment walks there through the states between,
// each recorded in its history as GOV.UK Pay's would be.
func pathTo(from, to Status) []Status {
	if from == to {
		return []Status{}
	}
	prev := map[Status]Status{from: ""}
	queue := []Status{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range transitions[cur] {
			if _, seen := prev[next]; seen {
				continue
			}
			prev[next] = cur
			if next == to {
				var path []Status
				for s := to; s != from; s = prev[s] {
					path = append([]Status{s}, path...)
				}
				return path
			}
			queue = append(queue, next)
		}
	}
	return nil
}
