package stripeprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/paycrash"
	"github.com/portico-gov/portico/internal/payment/stripeprovider"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// fakeStripe is Stripe with a memory, on loopback in front of
// stripe-mock: stripe-mock validates every request against Stripe's
// specification but keeps no state, and a crash test must ask "how many
// sessions did Stripe make for this checkout, and what did it refund"
// across two processes. It keeps the sessions and refunds it made, keyed
// by Idempotency-Key as Stripe does (the same key and body replays the
// first answer; the same key with another body is Stripe's 400
// idempotency_error), and answers each session's state as the payer left
// it (pay).
type fakeStripe struct {
	*httptest.Server
	mock     string
	mu       sync.Mutex
	sessions map[string]*fakeSession // by id
	keys     map[string]fakeAnswer   // Idempotency-Key → the first request's body and answer
	n        int
}

type fakeSession struct {
	id, checkout           string
	amount                 int64
	status, paid, piStatus string
	refunded               int64
	refunds                int
}

type fakeAnswer struct {
	body   string
	answer []byte
}

func newFakeStripe(t *testing.T) *fakeStripe {
	t.Helper()
	f := &fakeStripe{mock: strings.TrimRight(mockURL(t), "/"), sessions: map[string]*fakeSession{}, keys: map[string]fakeAnswer{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost && key != "" {
		if prev, ok := f.keys[key]; ok {
			if prev.body != string(body) {
				writeStripe(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"type": "idempotency_error",
					"message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}})
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotent-Replayed", "true")
			_, _ = w.Write(prev.answer)
			return
		}
	}
	// stripe-mock first: a request Stripe would refuse is refused.
	req, _ := http.NewRequest(r.Method, f.mock+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(answer)
		return
	}
	var obj map[string]any
	_ = json.Unmarshal(answer, &obj)
	form, _ := url.ParseQuery(string(body))
	path := r.URL.Path
	var out any = obj
	switch {
	case r.Method == http.MethodPost && path == "/v1/checkout/sessions":
		f.n++
		amount, _ := strconv.ParseInt(form.Get("line_items[0][price_data][unit_amount]"), 10, 64)
		s := &fakeSession{id: fmt.Sprintf("cs_test_crash%d", f.n), checkout: form.Get("metadata[portico_checkout]"), amount: amount, status: "open", paid: "unpaid"}
		f.sessions[s.id] = s
		out = f.session(obj, s)
	case strings.HasPrefix(path, "/v1/checkout/sessions/"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/checkout/sessions/"), "/expire")
		s := f.sessions[id]
		if s == nil {
			writeStripe(w, http.StatusNotFound, map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "resource_missing"}})
			return
		}
		if strings.HasSuffix(path, "/expire") {
			if s.status != "open" {
				writeStripe(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "checkout_session_not_open"}})
				return
			}
			s.status = "expired"
		}
		out = f.session(obj, s)
	case r.Method == http.MethodPost && path == "/v1/refunds":
		var s *fakeSession
		for _, c := range f.sessions {
			if "pi_"+c.id == form.Get("payment_intent") {
				s = c
			}
		}
		amount, _ := strconv.ParseInt(form.Get("amount"), 10, 64)
		if s == nil || s.paid != "paid" || s.refunded+amount > s.amount {
			writeStripe(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"type": "invalid_request_error", "code": "charge_already_refunded"}})
			return
		}
		s.refunded += amount
		s.refunds++
		obj["id"], obj["status"], obj["amount"], obj["payment_intent"] = fmt.Sprintf("re_test_crash%d", s.refunds), "succeeded", amount, "pi_"+s.id
	}
	b, _ := json.Marshal(out)
	if r.Method == http.MethodPost && key != "" {
		f.keys[key] = fakeAnswer{body: string(body), answer: b}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// session is stripe-mock's session answer with s's state.
func (f *fakeStripe) session(obj map[string]any, s *fakeSession) map[string]any {
	obj["id"], obj["status"], obj["payment_status"], obj["url"] = s.id, s.status, s.paid, "https://checkout.stripe.com/c/pay/"+s.id
	obj["amount_total"], obj["currency"] = s.amount, "usd"
	obj["payment_intent"] = nil
	if s.piStatus != "" {
		obj["payment_intent"] = map[string]any{"id": "pi_" + s.id, "object": "payment_intent", "status": s.piStatus, "amount": s.amount, "currency": "usd"}
	}
	return obj
}

func writeStripe(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pay is the payer paying session ref on Stripe's page.
func (f *fakeStripe) pay(t *testing.T, ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[ref]
	if s == nil || s.status != "open" {
		t.Fatalf("session %q cannot be paid: %+v", ref, s)
	}
	s.status, s.paid, s.piStatus = "complete", "paid", "succeeded"
}

// truth is what Stripe holds for a checkout.
func (f *fakeStripe) truth(checkout string) paycrash.Truth {
	f.mu.Lock()
	defer f.mu.Unlock()
	var tr paycrash.Truth
	for _, s := range f.sessions {
		if s.checkout != checkout {
			continue
		}
		tr.Charges++
		tr.Refunded += s.refunded
		tr.Refunds += s.refunds
		switch {
		case s.paid == "paid":
			tr.Status = payment.Success
		case s.status == "expired":
			tr.Status = payment.Failed
		default:
			tr.Status = payment.Started
		}
	}
	return tr
}

// stripeRig is the payment block with Stripe as its provider, as one
// process has it (the child's dies at point).
type stripeRig struct {
	t        *testing.T
	db       *storage.DB
	svc      *payment.Service
	hook     *stripeprovider.Webhook
	fake     *fakeStripe // the parent's only
	clock    *platform.FakeClock
	checkout string
	refund   string
}

// killerCharges is the webhook's view of a dying Stripe.
type killerCharges struct {
	paycrash.Killer
	p *stripeprovider.Provider
}

func (k killerCharges) SessionOf(ctx context.Context, pi string) (string, error) {
	return k.p.SessionOf(ctx, pi)
}

func newStripeRig(t *testing.T, db *storage.DB, apiURL string, now time.Time, point string) *stripeRig {
	t.Helper()
	clock := platform.NewFakeClock(now)
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := payment.NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock, payment.WithJobs(ins, jobs.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := stripeprovider.New(stripeprovider.Config{SecretKey: "sk_test_portico", APIURL: apiURL, Timeout: 10 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	k := killerCharges{Killer: paycrash.Killer{Provider: p, Point: point}, p: p}
	svc.Register(k)
	hook := &stripeprovider.Webhook{Secret: secret, Charges: k, Payments: svc, DB: db, Clock: clock, Logger: slog.New(slog.DiscardHandler)}
	return &stripeRig{t: t, db: db, svc: svc, hook: hook, clock: clock}
}

func (r *stripeRig) open() {
	ctx := context.Background()
	items := []payment.Item{
		{Kind: payment.ItemCasePayment, Source: "11", Agency: "dmv", Amount: 4500, Currency: "USD", Reference: "DMV-1", DescriptionEN: "Renewal", DescriptionES: "Renovación"},
		{Kind: payment.ItemObligation, Source: "ob-1", Agency: "adams-treasurer", Amount: 61250, Currency: "USD", Reference: "PARCEL-9", DescriptionEN: "Tax", DescriptionES: "Impuesto"},
	}
	c, err := r.svc.Open(ctx, payer, payment.OpenCheckout{Account: payer.ID, Provider: stripeprovider.Name, Items: items, ReturnURL: "https://portico.example.gov/pay"})
	if err != nil {
		r.t.Fatal(err)
	}
	r.checkout = c.ID
}

func (r *stripeRig) begin() payment.Checkout {
	c, err := r.svc.Begin(context.Background(), payer, r.checkout, "https://portico.example.gov/pay/checkouts/"+r.checkout+"/return", "DMV, Adams County Treasurer")
	if err != nil {
		r.t.Fatalf("begin: %v", err)
	}
	if c.ProviderRef == "" {
		r.t.Fatalf("begun without a session: %+v", c)
	}
	return c
}

func (r *stripeRig) pay() { r.fake.pay(r.t, r.begin().ProviderRef) }

// deliver is Stripe sending checkout.session.completed for the checkout
// (the same event id every time: a redelivery); it returns the answer.
func (r *stripeRig) deliver(w http.ResponseWriter) {
	c, err := r.svc.Checkout(context.Background(), r.checkout)
	if err != nil {
		r.t.Fatal(err)
	}
	ev := event("evt_crash_completed", "checkout.session.completed", map[string]any{"id": c.ProviderRef, "object": "checkout.session", "status": "complete"})
	req := httptest.NewRequest(http.MethodPost, stripeprovider.WebhookPath, bytes.NewReader(ev))
	req.Header.Set("Stripe-Signature", sign(ev, secret, time.Now()))
	r.hook.ServeHTTP(w, req)
}

func (r *stripeRig) redeliver() {
	w := httptest.NewRecorder()
	r.deliver(w)
	if w.Code != http.StatusOK {
		r.t.Fatalf("redelivery: %d %s", w.Code, w.Body)
	}
}

func (r *stripeRig) sweep() {
	if _, err := r.svc.SettleDue(context.Background(), payer); err != nil {
		r.t.Fatal(err)
	}
}

func (r *stripeRig) askRefund() {
	c, err := r.svc.Checkout(context.Background(), r.checkout)
	if err != nil {
		r.t.Fatal(err)
	}
	ref, err := r.svc.Refund(context.Background(), payer, "adams-treasurer", c.Payments[0], 1250, -1, "Paid at the counter too")
	if err != nil {
		r.t.Fatal(err)
	}
	r.refund = ref.ID
}

func (r *stripeRig) completeRefund() {
	if st, err := r.svc.CompleteRefund(context.Background(), r.refund); err != nil || st != payment.RefundSuccess {
		r.t.Fatalf("refund: %s %v", st, err)
	}
}

// dyingWriter dies when the webhook's answer is written: the event is
// recorded, Stripe never hears so.
type dyingWriter struct{ *httptest.ResponseRecorder }

func (dyingWriter) WriteHeader(int) { paycrash.Die() }

type stripeStep struct {
	name     string
	point    string
	prepare  func(r *stripeRig)
	step     func(r *stripeRig)
	recover  func(r *stripeRig)
	want     payment.Status
	code     string
	refunded int64
}

// later is the payer coming back a minute on: Begin again must send
// Stripe the same request, or Stripe refuses the reused key.
func later(r *stripeRig) { r.clock.Advance(time.Minute) }

var stripeCrashSteps = []stripeStep{
	{name: "begin before Stripe is asked", point: paycrash.BeforeStart,
		prepare: (*stripeRig).open, step: func(r *stripeRig) { r.begin() },
		recover: func(r *stripeRig) { later(r); r.pay(); r.redeliver() }, want: payment.Success},
	{name: "begin after Stripe made the session", point: paycrash.AfterStart,
		prepare: (*stripeRig).open, step: func(r *stripeRig) { r.begin() },
		recover: func(r *stripeRig) { later(r); r.pay(); r.redeliver() }, want: payment.Success},
	{name: "webhook read the session, not recorded", point: paycrash.AfterStatus,
		prepare: func(r *stripeRig) { r.open(); r.pay() }, step: func(r *stripeRig) { r.deliver(httptest.NewRecorder()) },
		recover: (*stripeRig).redeliver, want: payment.Success},
	{name: "webhook recorded, not answered", point: "",
		prepare: func(r *stripeRig) { r.open(); r.pay() }, step: func(r *stripeRig) { r.deliver(dyingWriter{httptest.NewRecorder()}) },
		recover: (*stripeRig).redeliver, want: payment.Success},
	{name: "sweep read the session, not recorded", point: paycrash.AfterStatus,
		prepare: func(r *stripeRig) { r.open(); r.pay(); r.clock.Advance(payment.SettleAfter) }, step: (*stripeRig).sweep,
		recover: (*stripeRig).sweep, want: payment.Success},
	{name: "sweep expired the session, not recorded", point: paycrash.AfterCancel,
		prepare: func(r *stripeRig) { r.open(); r.begin(); r.clock.Advance(payment.Expiry) }, step: (*stripeRig).sweep,
		recover: (*stripeRig).sweep, want: payment.Failed, code: payment.CodeExpired},
	{name: "refund before Stripe is asked", point: paycrash.BeforeRefund,
		prepare: func(r *stripeRig) { r.open(); r.pay(); r.redeliver(); r.askRefund() }, step: (*stripeRig).completeRefund,
		recover: (*stripeRig).completeRefund, want: payment.Success, refunded: 1250},
	{name: "refund after Stripe refunded", point: paycrash.AfterRefund,
		prepare: func(r *stripeRig) { r.open(); r.pay(); r.redeliver(); r.askRefund() }, step: (*stripeRig).completeRefund,
		recover: (*stripeRig).completeRefund, want: payment.Success, refunded: 1250},
}

// TestStripeCrashChild is the child of TestStripePaymentSurvivesCrash. It
// does nothing in a normal run.
func TestStripeCrashChild(t *testing.T) {
	name, db, now := paycrash.Step(t)
	for _, st := range stripeCrashSteps {
		if st.name != name {
			continue
		}
		r := newStripeRig(t, db, os.Getenv(paycrash.EnvURL), now, st.point)
		if err := db.Read().QueryRowContext(context.Background(), `SELECT id FROM checkouts`).Scan(&r.checkout); err != nil {
			t.Fatal(err)
		}
		_ = db.Read().QueryRowContext(context.Background(), `SELECT id FROM payment_refunds`).Scan(&r.refund)
		st.step(r)
		t.Fatalf("%s: the step finished without dying at %q", name, st.point)
	}
	t.Fatalf("no crash step %q", name)
}

// TestStripePaymentSurvivesCrash kills Portico at each step of a Stripe
// payment (before and after Stripe makes the Checkout Session, after the
// payment and before and after Stripe's webhook is recorded, in the
// settle sweep, before and after Stripe refunds) and restarts it on the
// same database: after the payer tries again, Stripe's redelivery, the
// sweep and the refund job's retry, every checkout is where Stripe says,
// Stripe made one session per checkout and one refund per refund, and
// the books balance, on SQLite and PostgreSQL. Stripe is stripe-mock
// (every request checked against Stripe's specification) behind
// fakeStripe, which remembers; without PORTICO_TEST_STRIPE_MOCK_URL it
// skips.
func TestStripePaymentSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts child processes")
	}
	mockURL(t)
	for _, d := range storagetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			for _, st := range stripeCrashSteps {
				t.Run(st.name, func(t *testing.T) {
					u, db := paycrash.Database(t, d)
					fake := newFakeStripe(t)
					r := newStripeRig(t, db, fake.URL, fixedNow, "")
					r.fake = fake
					st.prepare(r)
					paycrash.Child(t, "TestStripeCrashChild", st.name, u, r.clock.Now(), paycrash.EnvURL+"="+fake.URL)
					again := newStripeRig(t, db, fake.URL, r.clock.Now(), "")
					again.fake, again.checkout, again.refund = fake, r.checkout, r.refund
					st.recover(again)
					c, err := again.svc.Checkout(context.Background(), r.checkout)
					if err != nil {
						t.Fatal(err)
					}
					if c.State.Status != st.want || c.State.Code != st.code {
						t.Errorf("checkout %s %s, want %s %s", c.State.Status, c.State.Code, st.want, st.code)
					}
					if tr := fake.truth(r.checkout); tr.Refunded != st.refunded {
						t.Errorf("Stripe refunded %d, want %d", tr.Refunded, st.refunded)
					}
					var events int
					if err := db.Read().QueryRow(`SELECT COUNT(*) FROM provider_webhook_events`).Scan(&events); err != nil || events > 1 {
						t.Errorf("%d webhook events recorded (%v), want at most the one", events, err)
					}
					paycrash.Verify(t, db, fake.truth)
				})
			}
		})
	}
}
