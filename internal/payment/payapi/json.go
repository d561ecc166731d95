package payapi

import (
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/payresource"
)

// The payment resource and its builder are payresource's (block-side, so
// the webhook block sends the same resource GET answers).
type (
	Link    = payresource.Link
	Payment = payresource.Payment
	Reader  = payresource.Reader
)

// link is the API's own name for a Link.
type link = Link

// hrefOnly is a search page link (Pay's have no method).
type hrefOnly struct {
	Href string `json:"href"`
}

var (
	// Resource builds a payment as Pay's API shows it.
	Resource = payresource.Resource
	// Describe reads a payment and builds its resource.
	Describe = payresource.Describe
	payDate  = payresource.Date
)

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
	Results []Payment            `json:"results"`
	Links   map[string]*hrefOnly `json:"_links"`
}
