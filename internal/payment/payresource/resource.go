// Package payresource is a payment as GOV.UK Pay's public API shows it:
// the one builder of the resource GET /v1/payments/{id} answers
// (internal/payment/payapi), each result of a search, and the resource
// a payment webhook carries (internal/webhook), so the three never
// differ. It is block-side (no HTTP), so the webhook block may use it.
package payresource

import (
	"context"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/payment"
)

// Link is one of a resource's _links. next_url_post also has the form's
// content type and parameters.
type Link struct {
	Type   string            `json:"type,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Href   string            `json:"href"`
	Method string            `json:"method"`
}

// SecurePath is where a payment's _links.next_url_post sends the payer:
// a form POST of chargeTokenId, as GOV.UK Pay's /secure.
const SecurePath = "/pay/secure"

// Payment is a payment as GOV.UK Pay's API gives it: the answer of
// GET /v1/payments/{id}, each result of a search, and the resource of a
// payment webhook (internal/webhook), all built by Resource.
type Payment struct {
	Amount            int64                 `json:"amount"`
	Description       string                `json:"description"`
	Reference         string                `json:"reference"`
	Language          string                `json:"language"`
	Email             string                `json:"email,omitempty"`
	Metadata          map[string]any        `json:"metadata,omitempty"`
	State             payment.State         `json:"state"`
	PaymentID         string                `json:"payment_id"`
	PaymentProvider   string                `json:"payment_provider"`
	CreatedDate       string                `json:"created_date"`
	RefundSummary     payment.RefundSummary `json:"refund_summary"`
	SettlementSummary SettlementSummary     `json:"settlement_summary"`
	CardDetails       *CardDetails          `json:"card_details,omitempty"`
	DelayedCapture    bool                  `json:"delayed_capture"`
	Moto              bool                  `json:"moto"`
	ReturnURL         string                `json:"return_url"`
	Links             map[string]Link       `json:"_links"`
}

// SettlementSummary is Pay's settlement_summary: when the payment was
// submitted for capture (UTC, milliseconds) and the day it was captured
// (YYYY-MM-DD, UTC); empty ({}) until the payment succeeds. Portico's
// providers capture when the payment succeeds (a delayed-capture
// payment, when the service captures it), so both come from that moment.
// settled_date (Stripe's payout) is not given.
type SettlementSummary struct {
	CaptureSubmitTime string `json:"capture_submit_time,omitempty"`
	CapturedDate      string `json:"captured_date,omitempty"`
}

// CardDetails is Pay's card_details, given once a card was entered.
// card_type is null when the provider did not say; billing_address is
// always null: Portico's payment pages do not ask for it.
type CardDetails struct {
	LastDigitsCardNumber  string          `json:"last_digits_card_number"`
	FirstDigitsCardNumber *string         `json:"first_digits_card_number"`
	CardholderName        *string         `json:"cardholder_name"`
	ExpiryDate            *string         `json:"expiry_date"`
	BillingAddress        *BillingAddress `json:"billing_address"`
	CardBrand             string          `json:"card_brand"`
	CardType              *string         `json:"card_type"`
}

// BillingAddress is Pay's billing address; Portico never collects one,
// so it is always null.
type BillingAddress struct {
	Line1    string `json:"line1"`
	Line2    string `json:"line2,omitempty"`
	Postcode string `json:"postcode"`
	City     string `json:"city"`
	Country  string `json:"country"`
}

// payBrands are providers' card brands as GOV.UK Pay spells them.
var payBrands = map[string]string{
	"visa": "Visa", "mastercard": "Mastercard", "american-express": "American Express", "amex": "American Express",
	"diners": "Diners Club", "diners-club": "Diners Club", "discover": "Discover", "jcb": "Jcb", "maestro": "Maestro",
	"unionpay": "Union Pay", "union-pay": "Union Pay",
}

// CardBrand is brand (a provider's spelling) as GOV.UK Pay spells it;
// "" for an unknown brand.
func CardBrand(brand string) string { return payBrands[strings.ToLower(brand)] }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Date is Pay's date format: UTC, ISO 8601 with milliseconds.
func Date(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// RefundSummaryOf is p's refund_summary as Pay gives it, given the sum
// of its refunds not in error: like payment.SummarizeRefunds, except
// that while the payment is unfinished (pending) amount_available is
// what could be refunded once it succeeds (Pay's example of a created
// payment gives its amount).
func RefundSummaryOf(p payment.Payment, submitted int64) payment.RefundSummary {
	sum := payment.SummarizeRefunds(p, submitted)
	if sum.Status == "pending" {
		sum.Available = max(p.Amount-submitted, 0)
	}
	return sum
}

// Resource builds p's representation; base is Portico's public URL
// without a trailing slash, d what the payment row does not hold
// (payment.Service.APIDetails). next_url and next_url_post lead to
// Portico's checkout page for the payment while the payer has not yet
// started; cancel is given while it may be cancelled; capture while it
// waits to be captured.
func Resource(base string, p payment.Payment, d payment.APIDetail) Payment {
	self := base + "/v1/payments/" + p.ID
	out := Payment{Amount: p.Amount, Description: p.Description, Reference: p.Reference, Language: p.Language, Email: p.Email,
		Metadata: p.Metadata, State: p.State, PaymentID: p.ID, PaymentProvider: p.Provider, CreatedDate: Date(p.CreatedAt),
		RefundSummary: RefundSummaryOf(p, d.Refunded), DelayedCapture: p.DelayedCapture, ReturnURL: p.ReturnURL,
		Links: map[string]Link{
			"self":    {Href: self, Method: "GET"},
			"events":  {Href: self + "/events", Method: "GET"},
			"refunds": {Href: self + "/refunds", Method: "GET"},
		}}
	if !d.CapturedAt.IsZero() && p.State.Status == payment.Success {
		out.SettlementSummary = SettlementSummary{CaptureSubmitTime: Date(d.CapturedAt), CapturedDate: d.CapturedAt.UTC().Format("2006-01-02")}
	}
	if c := d.Card; c.Entered() {
		brand := CardBrand(c.Brand)
		if brand == "" {
			brand = c.Brand
		}
		out.CardDetails = &CardDetails{LastDigitsCardNumber: c.LastDigits, FirstDigitsCardNumber: optional(c.FirstDigits),
			CardholderName: optional(c.CardholderName), ExpiryDate: optional(c.ExpiryDate), CardBrand: brand, CardType: optional(c.Type)}
	}
	st := p.State.Status
	if st == payment.Created && p.Checkout != "" {
		out.Links["next_url"] = Link{Href: base + "/pay/checkouts/" + p.Checkout, Method: "GET"}
		out.Links["next_url_post"] = Link{Type: "application/x-www-form-urlencoded", Params: map[string]string{"chargeTokenId": p.Checkout},
			Href: base + SecurePath, Method: "POST"}
	}
	if !st.Finished() && payment.CanMove(st, payment.Cancelled) {
		out.Links["cancel"] = Link{Href: self + "/cancel", Method: "POST"}
	}
	if st == payment.Capturable {
		out.Links["capture"] = Link{Href: self + "/capture", Method: "POST"}
	}
	return out
}

// Reader is what Describe reads a payment with (payment.Service).
type Reader interface {
	Get(ctx context.Context, agency, id string) (payment.Payment, error)
	APIDetails(ctx context.Context, ids []string) (map[string]payment.APIDetail, error)
}

// Describe reads agency's payment id and returns it exactly as
// GET /v1/payments/{id} answers (base: Portico's public URL, no trailing
// slash). Another agency's payment, or none, is CodeNotFound.
func Describe(ctx context.Context, r Reader, base, agency, id string) (Payment, error) {
	p, err := r.Get(ctx, agency, id)
	if err != nil {
		return Payment{}, err
	}
	ds, err := r.APIDetails(ctx, []string{p.ID})
	if err != nil {
		return Payment{}, err
	}
	return Resource(base, p, ds[p.ID]), nil
}
