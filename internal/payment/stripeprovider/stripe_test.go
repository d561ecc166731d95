package stripeprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/stripeprovider"
)

// mockURL is stripe-mock's address (.ci/run starts it); tests that talk
// to Stripe skip without it.
func mockURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("PORTICO_TEST_STRIPE_MOCK_URL")
	if u == "" {
		t.Skip("PORTICO_TEST_STRIPE_MOCK_URL is not set: install stripe-mock (go install github.com/stripe/stripe-mock@v0.203.0), start it (stripe-mock -http-port 12111) and set PORTICO_TEST_STRIPE_MOCK_URL=http://127.0.0.1:12111")
	}
	return u
}

// seen is one request the provider sent, as Stripe received it.
type seen struct {
	method, path string
	form         url.Values
	idempotency  string
}

// overlay stands on loopback between the provider and stripe-mock. Every
// request goes to stripe-mock, which validates it against Stripe's OpenAPI
// specification and answers its fixture; the overlay records the request
// and, because stripe-mock keeps no state, lets a test say what state
// Stripe's answer reports (patch), or make Stripe fail (fail).
type overlay struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
	patch    func(method, path string, obj map[string]any)
	fail     int           // answer this status instead of forwarding
	delay    time.Duration // wait this long before answering
}

func newOverlay(t *testing.T, target string) *overlay {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	o := &overlay{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(res *http.Response) error {
		o.mu.Lock()
		patch := o.patch
		o.mu.Unlock()
		if patch == nil || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || res.StatusCode != http.StatusOK {
			return nil
		}
		var obj map[string]any
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &obj); err != nil {
			return err
		}
		patch(res.Request.Method, res.Request.URL.Path, obj)
		body, _ = json.Marshal(obj)
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if r.Method == http.MethodGet {
			form = r.URL.Query()
		}
		o.mu.Lock()
		path := r.URL.Path
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		o.requests = append(o.requests, seen{r.Method, path, form, r.Header.Get("Idempotency-Key")})
		fail, delay := o.fail, o.delay
		o.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if fail != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Request-Id", "req_test")
			w.WriteHeader(fail)
			typ := "api_error"
			if fail < 500 {
				typ = "invalid_request_error"
			}
			_, _ = io.WriteString(w, `{"error":{"type":"`+typ+`","message":"the card 4242424242424242 of sk_test_secret"}}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *overlay) set(f func(o *overlay)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

// last returns the last request by method whose path (with its query)
// starts with prefix.
func (o *overlay) last(t *testing.T, method, prefix string) seen {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.requests) - 1; i >= 0; i-- {
		if r := o.requests[i]; r.method == method && strings.HasPrefix(r.path, prefix) {
			return r
		}
	}
	t.Fatalf("no %s %s request; sent %+v", method, prefix, o.requests)
	return seen{}
}

var fixedNow = time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)

func newProvider(t *testing.T, apiURL string, timeout time.Duration) *stripeprovider.Provider {
	t.Helper()
	p, err := stripeprovider.New(stripeprovider.Config{SecretKey: "sk_test_portico", APIURL: apiURL, Timeout: timeout, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sessionState makes Stripe's answer for a Checkout Session report
// status, payment_status and its PaymentIntent's status (expanded).
func sessionState(status, paid, piStatus string) func(method, path string, obj map[string]any) {
	return func(method, path string, obj map[string]any) {
		if obj["object"] != "checkout.session" {
			return
		}
		obj["status"], obj["payment_status"] = status, paid
		if pi, ok := obj["payment_intent"].(map[string]any); ok {
			pi["status"] = piStatus
		}
	}
}

// TestStartSendsACheckoutSession: Start's request passes stripe-mock's
// validation against Stripe's specification and carries what the
// contract says: the checkout id as Idempotency-Key, client reference
// and metadata (of the session and of its PaymentIntent), the amount in
// cents and the currency in Stripe's lowercase, the payer's language, the
// return page as success and cancel URL, an expiry before Portico's, and
// manual capture only for delayed capture. The payer is sent to the
// session's url.
func TestStartSendsACheckoutSession(t *testing.T) {
	o := newOverlay(t, mockURL(t))
	p := newProvider(t, o.URL, 0)
	for _, tc := range []struct {
		name   string
		charge payment.Charge
		locale string
		manual bool
	}{
		{"English, immediate capture", payment.Charge{Checkout: "chk1", Amount: 65850, Currency: "USD", Description: "2 payments", Email: "ana@example.com", Language: "en", ReturnURL: "https://portico.example.gov/pay/chk1/return"}, "en", false},
		{"Spanish, delayed capture", payment.Charge{Checkout: "chk2", Amount: 4500, Currency: "USD", Description: "Renovación", Language: "es", ReturnURL: "https://portico.example.gov/pay/chk2/return", DelayedCapture: true}, "es", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := p.Start(context.Background(), tc.charge)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.Ref, "cs_") || !strings.HasPrefix(b.NextURL, "https://checkout.stripe.com/") {
				t.Fatalf("begun %+v", b)
			}
			r := o.last(t, http.MethodPost, "/v1/checkout/sessions")
			c := tc.charge
			want := map[string]string{
				"mode": "payment", "client_reference_id": c.Checkout, "locale": tc.locale,
				"success_url": c.ReturnURL, "cancel_url": c.ReturnURL,
				"metadata[portico_checkout]":                      c.Checkout,
				"payment_intent_data[metadata][portico_checkout]": c.Checkout,
				"line_items[0][quantity]":                         "1",
				"line_items[0][price_data][unit_amount]":          strconv.FormatInt(c.Amount, 10),
				"line_items[0][price_data][currency]":             "usd",
				"line_items[0][price_data][product_data][name]":   c.Description,
				"customer_email":                                  c.Email,
				"expires_at":                                      strconv.FormatInt(fixedNow.Add(stripeprovider.SessionLifetime).Unix(), 10),
			}
			if tc.manual {
				want["payment_intent_data[capture_method]"] = "manual"
			}
			for k, v := range want {
				if got := r.form.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !tc.manual && r.form.Has("payment_intent_data[capture_method]") {
				t.Errorf("immediate capture sent capture_method %q", r.form.Get("payment_intent_data[capture_method]"))
			}
			if r.idempotency != c.Checkout {
				t.Errorf("Idempotency-Key %q, want the checkout id %q", r.idempotency, c.Checkout)
			}
			if stripeprovider.SessionLifetime >= payment.Expiry {
				t.Errorf("a session (%s) must close before Portico expires the payment (%s)", stripeprovider.SessionLifetime, payment.Expiry)
			}
		})
	}
	if _, err := p.Start(context.Background(), payment.Charge{Checkout: "chk3", Currency: "USD", ReturnURL: "https://x.example/"}); err == nil {
		t.Fatal("a charge of 0 cents was sent")
	}
}

// TestStatusCaptureCancelRefund: each call reaches the endpoint Stripe
// documents for it (stripe-mock validates the request), with its
// idempotency key, and what Stripe answers is mapped.
func TestStatusCaptureCancelRefund(t *testing.T) {
	o := newOverlay(t, mockURL(t))
	p := newProvider(t, o.URL, 0)
	ctx := context.Background()

	// stripe-mock's own fixture: an open session whose intent waits for a
	// card paid earlier with a Visa ending 4242.
	out, err := p.Status(ctx, "cs_test_portico")
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != payment.Started || out.CardBrand != "visa" || out.LastDigits != "4242" {
		t.Fatalf("status %+v", out)
	}
	r := o.last(t, http.MethodGet, "/v1/checkout/sessions/cs_test_portico?")
	if got := r.form.Get("expand[0]"); got != "payment_intent.latest_charge" {
		t.Errorf("expand %v", r.form)
	}

	for _, tc := range []struct {
		status, paid, pi string
		want             payment.Status
	}{
		{"complete", "paid", "succeeded", payment.Success},
		{"complete", "unpaid", "requires_capture", payment.Capturable},
		{"expired", "unpaid", "requires_payment_method", payment.Failed},
	} {
		o.set(func(o *overlay) { o.patch = sessionState(tc.status, tc.paid, tc.pi) })
		if out, err := p.Status(ctx, "cs_test_portico"); err != nil || out.Status != tc.want {
			t.Errorf("%s/%s/%s: %+v %v, want %s", tc.status, tc.paid, tc.pi, out, err, tc.want)
		}
	}

	// Capture: the intent of an authorised session, keyed by the session.
	o.set(func(o *overlay) { o.patch = sessionState("complete", "unpaid", "requires_capture") })
	if err := p.Capture(ctx, "cs_test_portico"); err != nil {
		t.Fatal(err)
	}
	if r := o.last(t, http.MethodPost, "/v1/payment_intents/"); !strings.HasSuffix(r.path, "/capture") || r.idempotency != "capture-cs_test_portico" {
		t.Errorf("capture sent %+v", r)
	}

	// Cancel: an authorised payment is released; an open session expired.
	if err := p.Cancel(ctx, "cs_test_portico"); err != nil {
		t.Fatal(err)
	}
	if r := o.last(t, http.MethodPost, "/v1/payment_intents/"); !strings.HasSuffix(r.path, "/cancel") || r.idempotency != "cancel-cs_test_portico" {
		t.Errorf("cancel of an authorisation sent %+v", r)
	}
	o.set(func(o *overlay) { o.patch = sessionState("open", "unpaid", "requires_payment_method") })
	if err := p.Cancel(ctx, "cs_test_portico"); err != nil {
		t.Fatal(err)
	}
	if r := o.last(t, http.MethodPost, "/v1/checkout/sessions/"); r.path != "/v1/checkout/sessions/cs_test_portico/expire" {
		t.Errorf("cancel of an open session sent %+v", r)
	}
	o.set(func(o *overlay) { o.patch = sessionState("complete", "paid", "succeeded") })
	if err := p.Cancel(ctx, "cs_test_portico"); err == nil {
		t.Error("a paid session was cancelled")
	}

	// Refund: part of the intent, keyed by Portico's refund id.
	ro, err := p.Refund(ctx, "cs_test_portico", 1250, "USD", "refund-1")
	if err != nil {
		t.Fatal(err)
	}
	r = o.last(t, http.MethodPost, "/v1/refunds")
	if r.idempotency != "refund-1" || r.form.Get("amount") != "1250" || !strings.HasPrefix(r.form.Get("payment_intent"), "pi_") || r.form.Get("metadata[portico_refund]") != "refund-1" {
		t.Errorf("refund sent %+v", r)
	}
	if !strings.HasPrefix(ro.Ref, "re_") || ro.Status != "success" {
		t.Errorf("refund outcome %+v", ro)
	}
	if _, err := p.Refund(ctx, "cs_test_portico", 1250, "EUR", "refund-2"); err == nil {
		t.Error("a refund in another currency than the payment's was sent")
	}

	// SessionOf: the session that made an intent.
	if id, err := p.SessionOf(ctx, "pi_123"); err != nil || !strings.HasPrefix(id, "cs_") {
		t.Errorf("SessionOf = %q %v", id, err)
	}
	if r := o.last(t, http.MethodGet, "/v1/checkout/sessions?"); r.form.Get("payment_intent") != "pi_123" {
		t.Errorf("session lookup sent %+v", r)
	}
}

// TestStripeUnavailable: a timeout, 429 and any 5xx are
// payment.ErrProviderUnavailable (the caller keeps the payment and tries
// again); Stripe refusing a request (4xx) is not; no error carries
// Stripe's message (which can quote what was sent) or the secret key.
func TestStripeUnavailable(t *testing.T) {
	// The failing answers come from the overlay itself: stripe-mock
	// answers every valid request with success. Forwarding is never
	// reached, so this test needs no stripe-mock.
	o := newOverlay(t, "http://127.0.0.1:1")
	p := newProvider(t, o.URL, 300*time.Millisecond)
	ctx := context.Background()
	calls := map[string]func() error{
		"start": func() error {
			_, err := p.Start(ctx, payment.Charge{Checkout: "c", Amount: 100, Currency: "USD", ReturnURL: "https://x.example/"})
			return err
		},
		"status":  func() error { _, err := p.Status(ctx, "cs_1"); return err },
		"capture": func() error { return p.Capture(ctx, "cs_1") },
		"cancel":  func() error { return p.Cancel(ctx, "cs_1") },
		"refund":  func() error { _, err := p.Refund(ctx, "cs_1", 100, "USD", "r1"); return err },
	}
	for _, tc := range []struct {
		name        string
		fail        int
		delay       time.Duration
		unavailable bool
	}{
		{"500", 500, 0, true},
		{"502", 502, 0, true},
		{"503", 503, 0, true},
		{"429", 429, 0, true},
		{"timeout", 0, 2 * time.Second, true},
		{"400", 400, 0, false},
		{"404", 404, 0, false},
	} {
		o.set(func(o *overlay) { o.fail, o.delay = tc.fail, tc.delay })
		for name, call := range calls {
			err := call()
			if err == nil {
				t.Fatalf("%s %s: no error", tc.name, name)
			}
			if errors.Is(err, payment.ErrProviderUnavailable) != tc.unavailable {
				t.Errorf("%s %s: unavailable = %v, want %v (%v)", tc.name, name, !tc.unavailable, tc.unavailable, err)
			}
			if msg := err.Error(); strings.Contains(msg, "4242424242424242") || strings.Contains(msg, "sk_test") {
				t.Errorf("%s %s: the error quotes Stripe's message or the key: %s", tc.name, name, msg)
			}
		}
	}
	if _, err := stripeprovider.New(stripeprovider.Config{}); err == nil {
		t.Error("a provider without a key was made")
	}
}
