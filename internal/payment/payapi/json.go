package payapi

import (
	"time"

	"github.com/portico-gov/portico/internal/payment"
)

// link is one of a resource's _links.
type link struct {
	Href   string `json:"href"`
	Method string `json:"method"`
}

// hrefOnly is a search page link (Pay's have no method).
type hrefOnly struct {
	Href string `json:"href"`
}

// paymentJSON is a payment as GOV.UK Pay's API gives it.
type paymentJSON struct {
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
	SettlementSummary struct{}              `json:"settlement_summary"`
	DelayedCapture    bool                  `json:"delayed_capture"`
	Moto              bool                  `json:"moto"`
	ReturnURL         string                `json:"return_url"`
	Links             map[string]link       `json:"_links"`
}

// payDate is Pay's date format: UTC, ISO 8601 with milliseconds.
func payDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// paymentJSON builds p's representation; refunded is the sum of its
// refunds not in error. next_url is Portico's checkout page for the
// payment, given while the payer has not yet started; cancel while it may
// be cancelled; capture while it waits to be captured.
func (a *API) paymentJSON(c *call, p payment.Payment, refunded int64) paymentJSON {
	self := c.base + "/v1/payments/" + p.ID
	out := paymentJSON{Amount: p.Amount, Description: p.Description, Reference: p.Reference, Language: p.Language, Email: p.Email,
		Metadata: p.Metadata, State: p.State, PaymentID: p.ID, PaymentProvider: p.Provider, CreatedDate: payDate(p.CreatedAt),
		RefundSummary: payment.SummarizeRefunds(p, refunded), DelayedCapture: p.DelayedCapture, ReturnURL: p.ReturnURL,
		Links: map[string]link{
			"self":    {Href: self, Method: "GET"},
			"events":  {Href: self + "/events", Method: "GET"},
			"refunds": {Href: self + "/refunds", Method: "GET"},
		}}
	st := p.State.Status
	if st == payment.Created && p.Checkout != "" {
		out.Links["next_url"] = link{Href: c.base + "/pay/checkouts/" + p.Checkout, Method: "GET"}
	}
	if !st.Finished() && payment.CanMove(st, payment.Cancelled) {
		out.Links["cancel"] = link{Href: self + "/cancel", Method: "POST"}
	}
	if st == payment.Capturable {
		out.Links["capture"] = link{Href: self + "/capture", Method: "POST"}
	}
	return out
}

type eventJSON struct {
	PaymentID string          `json:"payment_id"`
	State     payment.State   `json:"state"`
	Updated   string          `json:"updated"`
	Links     map[string]link `json:"_links"`
}

type eventsJSON struct {
	PaymentID string          `json:"payment_id"`
	Links     map[string]link `json:"_links"`
	Events    []eventJSON     `json:"events"`
}

// refundJSON is a refund as Pay gives it.
type refundJSON struct {
	RefundID          string          `json:"refund_id"`
	CreatedDate       string          `json:"created_date"`
	Amount            int64           `json:"amount"`
	Status            string          `json:"status"`
	SettlementSummary struct{}        `json:"settlement_summary"`
	Links             map[string]link `json:"_links"`
}

func refundJSONOf(base string, r payment.Refund) refundJSON {
	pay := base + "/v1/payments/" + r.PaymentID
	return refundJSON{RefundID: r.ID, CreatedDate: payDate(r.CreatedAt), Amount: r.Amount, Status: r.Status,
		Links: map[string]link{"self": {Href: pay + "/refunds/" + r.ID, Method: "GET"}, "payment": {Href: pay, Method: "GET"}}}
}

type refundListJSON struct {
	PaymentID string          `json:"payment_id"`
	Links     map[string]link `json:"_links"`
	Embedded  struct {
		Refunds []refundJSON `json:"refunds"`
	} `json:"_embedded"`
}

type searchJSON struct {
	Total   int                  `json:"total"`
	Count   int                  `json:"count"`
	Page    int                  `json:"page"`
	Results []paymentJSON        `json:"results"`
	Links   map[string]*hrefOnly `json:"_links"`
}
