// Package stripeprovider is the payment.Provider named "stripe" (issue 12,
// ADR 44): a charge is a Stripe Checkout Session, so the payer types their
// card on Stripe's own hosted page and Portico never sees a card number.
// It also serves Stripe's webhook (webhook.go).
//
// Why a Checkout Session and not a bare PaymentIntent: a PaymentIntent
// has no page of its own (it needs Stripe.js on a page Portico would
// serve, which would bring card entry into Portico's pages and its PCI
// scope); a Checkout Session is Stripe's hosted page with its url,
// locale, success and cancel URLs and an expiry, and it creates the
// PaymentIntent that holds the money.
//
// Contract (payment.Provider's): Start is keyed by the checkout id
// (Idempotency-Key), Refund by the refund id, Capture and Cancel by the
// charge, so a call repeated after a crash or a timeout takes or gives
// back nothing twice. Timeouts, 429 and 5xx answers are
// payment.ErrProviderUnavailable. Nothing here logs: errors carry
// Stripe's type, code and request id, never a key, a message that could
// quote the payer, or card data (Portico never holds card data).
package stripeprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/portico-gov/portico/internal/payment"
)

// Name is the provider's name as checkouts and payments record it.
const Name = "stripe"

// MetadataCheckout is the metadata key of the Checkout Session and of its
// PaymentIntent that carries Portico's checkout id.
const MetadataCheckout = "portico_checkout"

// SessionLifetime is how long a Checkout Session stays open. It is
// shorter than payment.Expiry (90 minutes from the checkout's creation),
// so Stripe stops taking the card before Portico expires the payments:
// a payment Portico failed with P0020 is never paid at Stripe afterwards.
// Stripe's minimum is 30 minutes.
const SessionLifetime = 60 * time.Minute

// minSessionLifetime is the shortest expiry Stripe accepts (30 minutes
// from the request), with a minute's margin for clocks.
const minSessionLifetime = 31 * time.Minute

// sessionExpiry is when the Checkout Session of c closes: SessionLifetime
// after the checkout was opened (c.Expires less Portico's longer expiry),
// a time fixed by the checkout and not by the call, so a Start repeated
// after a crash sends the same body with the same Idempotency-Key (Stripe
// answers a key reused with other parameters with an idempotency_error,
// and the payer could never pay). A checkout first begun so late that
// fewer than Stripe's 30 minutes would remain gets the shortest expiry
// Stripe takes instead (then a repeat after a crash can be refused, and
// the checkout expires with P0020 untouched). Without c.Expires (a caller
// outside a checkout), SessionLifetime from now.
func (p *Provider) sessionExpiry(c payment.Charge) time.Time {
	now := p.now()
	if c.Expires.IsZero() {
		return now.Add(SessionLifetime)
	}
	at := c.Expires.Add(SessionLifetime - payment.Expiry)
	if at.Before(now.Add(minSessionLifetime)) {
		at = now.Add(minSessionLifetime)
	}
	return at
}

// Config is how the provider reaches Stripe.
type Config struct {
	// SecretKey is the account's secret (sk_live_…, sk_test_…) or
	// restricted (rk_…) key.
	SecretKey string
	// APIURL replaces https://api.stripe.com (stripe-mock in tests).
	APIURL string
	// Timeout bounds each HTTP request to Stripe (default 30 s).
	Timeout time.Duration
	// Retries is how many times stripe-go retries a request that failed
	// in a way that may pass (each carries an Idempotency-Key, so a retry
	// is safe); 0 means none.
	Retries int64
	// Now is the clock Session expiries are computed from (default
	// time.Now).
	Now func() time.Time
}

// Provider is Stripe as a payment.Provider.
type Provider struct {
	client *stripe.Client
	now    func() time.Time
}

var _ payment.Provider = (*Provider)(nil)

// New returns the provider; it asks Stripe nothing yet.
func New(cfg Config) (*Provider, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("stripe: a secret key is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	bc := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: cfg.Timeout},
		MaxNetworkRetries: stripe.Int64(cfg.Retries),
		// stripe-go's default logger writes request failures to stderr;
		// Portico reports errors through its own callers instead.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIURL != "" {
		bc.URL = stripe.String(strings.TrimRight(cfg.APIURL, "/"))
	}
	backends := &stripe.Backends{
		API:         stripe.GetBackendWithConfig(stripe.APIBackend, bc),
		Connect:     stripe.GetBackendWithConfig(stripe.ConnectBackend, bc),
		Uploads:     stripe.GetBackendWithConfig(stripe.UploadsBackend, bc),
		MeterEvents: stripe.GetBackendWithConfig(stripe.MeterEventsBackend, bc),
	}
	return &Provider{client: stripe.NewClient(cfg.SecretKey, stripe.WithBackends(backends)), now: cfg.Now}, nil
}

// Name implements payment.Provider.
func (p *Provider) Name() string { return Name }

// Start creates the Checkout Session for c: one line of the checkout's
// total (Portico's own pages list the items), the payer's language, the
// return page as both success and cancel URL (the return page reads the
// true state either way), and the checkout id as Idempotency-Key and in
// the metadata of the session and of its PaymentIntent.
func (p *Provider) Start(ctx context.Context, c payment.Charge) (payment.Begun, error) {
	if c.Checkout == "" || c.Amount < 1 || c.Currency == "" || c.ReturnURL == "" {
		return payment.Begun{}, fmt.Errorf("stripe: start: a charge needs a checkout, an amount, a currency and a return URL")
	}
	desc := c.Description
	if strings.TrimSpace(desc) == "" {
		desc = "Payment " + c.Checkout
	}
	meta := map[string]string{MetadataCheckout: c.Checkout}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(c.Checkout),
		SuccessURL:        stripe.String(c.ReturnURL),
		CancelURL:         stripe.String(c.ReturnURL),
		Locale:            stripe.String(locale(c.Language)),
		ExpiresAt:         stripe.Int64(p.sessionExpiry(c).Unix()),
		Metadata:          meta,
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(strings.ToLower(c.Currency)),
				UnitAmount:  stripe.Int64(c.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(desc)},
			},
		}},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{
			Description: stripe.String(desc),
			Metadata:    meta,
		},
	}
	if c.DelayedCapture {
		params.PaymentIntentData.CaptureMethod = stripe.String(string(stripe.PaymentIntentCaptureMethodManual))
	}
	if c.Email != "" {
		params.CustomerEmail = stripe.String(c.Email)
	}
	params.SetIdempotencyKey(c.Checkout)
	s, err := p.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return payment.Begun{}, classify("start", err)
	}
	if s.ID == "" || s.URL == "" {
		return payment.Begun{}, fmt.Errorf("stripe: start: %w: the session has no id or url", payment.ErrProviderUnavailable)
	}
	return payment.Begun{Ref: s.ID, NextURL: s.URL}, nil
}

// locale is Stripe Checkout's locale for Portico's language.
func locale(lang string) string {
	if lang == "es" {
		return "es"
	}
	return "en"
}

// Status reads Checkout Session ref with its PaymentIntent and that
// intent's latest charge, and maps them to GOV.UK Pay's states (Map).
func (p *Provider) Status(ctx context.Context, ref string) (payment.Outcome, error) {
	s, err := p.session(ctx, ref)
	if err != nil {
		return payment.Outcome{}, classify("status", err)
	}
	return Map(s), nil
}

func (p *Provider) session(ctx context.Context, ref string) (*stripe.CheckoutSession, error) {
	if ref == "" {
		return nil, errNoRef
	}
	params := &stripe.CheckoutSessionRetrieveParams{}
	params.AddExpand("payment_intent.latest_charge")
	return p.client.V1CheckoutSessions.Retrieve(ctx, ref, params)
}

var errNoRef = errors.New("no Checkout Session reference")

// SessionOf returns the id of the Checkout Session that created
// PaymentIntent pi (what a payment_intent.* or charge.* event names), or
// "" when no session did (a charge made outside Portico's checkouts).
func (p *Provider) SessionOf(ctx context.Context, pi string) (string, error) {
	params := &stripe.CheckoutSessionListParams{PaymentIntent: stripe.String(pi)}
	params.Limit = stripe.Int64(1)
	for s, err := range p.client.V1CheckoutSessions.List(ctx, params) {
		if err != nil {
			return "", classify("find session", err)
		}
		return s.ID, nil
	}
	return "", nil
}

// Capture takes a charge authorised with delayed capture.
func (p *Provider) Capture(ctx context.Context, ref string) error {
	s, err := p.session(ctx, ref)
	if err != nil {
		return classify("capture", err)
	}
	if s.PaymentIntent == nil || s.PaymentIntent.ID == "" {
		return fmt.Errorf("stripe: capture: session %s has no payment to capture", ref)
	}
	if s.PaymentIntent.Status == stripe.PaymentIntentStatusSucceeded {
		return nil // captured already (a repeated call)
	}
	params := &stripe.PaymentIntentCaptureParams{}
	params.SetIdempotencyKey("capture-" + ref)
	if _, err := p.client.V1PaymentIntents.Capture(ctx, s.PaymentIntent.ID, params); err != nil {
		return classify("capture", err)
	}
	return nil
}

// Cancel ends a charge that has not been taken: an open session is
// expired (the payer can no longer pay on it), an authorised payment is
// released. A session already expired, or a payment already canceled,
// is left as it is.
func (p *Provider) Cancel(ctx context.Context, ref string) error {
	s, err := p.session(ctx, ref)
	if err != nil {
		return classify("cancel", err)
	}
	switch {
	case s.Status == stripe.CheckoutSessionStatusOpen:
		params := &stripe.CheckoutSessionExpireParams{}
		params.SetIdempotencyKey("cancel-" + ref)
		if _, err := p.client.V1CheckoutSessions.Expire(ctx, ref, params); err != nil {
			return classify("cancel", err)
		}
	case s.PaymentIntent != nil && s.PaymentIntent.Status == stripe.PaymentIntentStatusRequiresCapture:
		params := &stripe.PaymentIntentCancelParams{}
		params.SetIdempotencyKey("cancel-" + ref)
		if _, err := p.client.V1PaymentIntents.Cancel(ctx, s.PaymentIntent.ID, params); err != nil {
			return classify("cancel", err)
		}
	case s.PaymentIntent != nil && s.PaymentIntent.Status == stripe.PaymentIntentStatusSucceeded:
		return fmt.Errorf("stripe: cancel: session %s is paid; refund it instead", ref)
	}
	return nil
}

// Refund gives back amount of the payment of session ref, keyed by the
// refund's id (key).
func (p *Provider) Refund(ctx context.Context, ref string, amount int64, currency, key string) (payment.RefundOutcome, error) {
	if amount < 1 || key == "" {
		return payment.RefundOutcome{}, fmt.Errorf("stripe: refund: an amount and a refund id are required")
	}
	s, err := p.session(ctx, ref)
	if err != nil {
		return payment.RefundOutcome{}, classify("refund", err)
	}
	if s.PaymentIntent == nil || s.PaymentIntent.ID == "" {
		return payment.RefundOutcome{}, fmt.Errorf("stripe: refund: session %s has no payment", ref)
	}
	if cur := string(s.PaymentIntent.Currency); cur != "" && !strings.EqualFold(cur, currency) {
		return payment.RefundOutcome{}, fmt.Errorf("stripe: refund: session %s was paid in %s, not %s", ref, strings.ToUpper(cur), currency)
	}
	params := &stripe.RefundCreateParams{PaymentIntent: stripe.String(s.PaymentIntent.ID), Amount: stripe.Int64(amount)}
	params.Metadata = map[string]string{"portico_refund": key}
	params.SetIdempotencyKey(key)
	r, err := p.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return payment.RefundOutcome{}, classify("refund", err)
	}
	return payment.RefundOutcome{Ref: r.ID, Status: RefundStatus(r.Status)}, nil
}

// RefundStatus maps a Stripe refund's status to Portico's refund
// statuses: succeeded is success; pending and requires_action are
// submitted (Stripe settles them later and says so by webhook); failed
// and canceled are error (nothing was refunded).
func RefundStatus(s stripe.RefundStatus) string {
	switch s {
	case stripe.RefundStatusSucceeded:
		return "success"
	case stripe.RefundStatusFailed, stripe.RefundStatusCanceled:
		return "error"
	default:
		return "submitted"
	}
}

// classify turns a stripe-go error into Portico's: a failure that may
// pass (no answer, a timeout, 429, 5xx) wraps
// payment.ErrProviderUnavailable; Stripe refusing the request is an error
// naming its type, code and request id. Stripe's message is left out: it
// can quote what the payer typed.
func classify(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, errNoRef) {
		return fmt.Errorf("stripe: %s: %w", op, err)
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		detail := fmt.Sprintf("HTTP %d, type %s", se.HTTPStatusCode, se.Type)
		if se.Code != "" {
			detail += ", code " + string(se.Code)
		}
		if se.Param != "" {
			detail += ", param " + se.Param
		}
		if se.RequestID != "" {
			detail += ", request " + se.RequestID
		}
		if se.HTTPStatusCode == 0 || se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 || se.Type == stripe.ErrorTypeAPI {
			return fmt.Errorf("stripe: %s: %w (%s)", op, payment.ErrProviderUnavailable, detail)
		}
		return fmt.Errorf("stripe: %s: Stripe refused the request (%s)", op, detail)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stripe: %s: %w (%v)", op, payment.ErrProviderUnavailable, err)
	}
	// Anything else (an answer that is not Stripe's JSON, a connection
	// reset) may pass as well.
	return fmt.Errorf("stripe: %s: %w (%v)", op, payment.ErrProviderUnavailable, err)
}
