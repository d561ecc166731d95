package stripeprovider_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/i18n"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/stripeprovider"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/web"
)

const secret = "whsec_portico_test"

var payer = platform.Actor{Kind: platform.ActorCitizen, ID: "acct-1"}

// event is a Stripe event of type typ about obj, as Stripe sends it.
func event(id, typ string, obj map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": "2024-06-20",
		"created": time.Now().Unix(), "livemode": false, "data": map[string]any{"object": obj}})
	return b
}

func sign(payload []byte, key string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: key, Timestamp: at}).Header
}

// TestParseEvent: the signature decides, then the event's shape. Every
// refusal is one of ParseEvent's errors (a 400 at the route).
func TestParseEvent(t *testing.T) {
	now := time.Now()
	session := event("evt_1", "checkout.session.completed", map[string]any{"id": "cs_1", "object": "checkout.session"})
	intent := event("evt_2", "payment_intent.payment_failed", map[string]any{"id": "pi_1", "object": "payment_intent"})
	refund := event("evt_3", "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "payment_intent": "pi_9"})
	refundExpanded := event("evt_4", "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "payment_intent": map[string]any{"id": "pi_8"}})
	other := event("evt_5", "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
	for _, tc := range []struct {
		name    string
		payload []byte
		header  string
		secret  string
		want    stripeprovider.Event
		err     error
	}{
		{"session event", session, sign(session, secret, now), secret, stripeprovider.Event{ID: "evt_1", Type: "checkout.session.completed", Session: "cs_1"}, nil},
		{"intent event", intent, sign(intent, secret, now), secret, stripeprovider.Event{ID: "evt_2", Type: "payment_intent.payment_failed", PaymentIntent: "pi_1"}, nil},
		{"refund event", refund, sign(refund, secret, now), secret, stripeprovider.Event{ID: "evt_3", Type: "charge.refunded", PaymentIntent: "pi_9"}, nil},
		{"refund event, intent expanded", refundExpanded, sign(refundExpanded, secret, now), secret, stripeprovider.Event{ID: "evt_4", Type: "charge.refunded", PaymentIntent: "pi_8"}, nil},
		{"a type Portico ignores", other, sign(other, secret, now), secret, stripeprovider.Event{ID: "evt_5", Type: "customer.created"}, nil},
		{"signed 299 s ago", session, sign(session, secret, now.Add(-299*time.Second)), secret, stripeprovider.Event{ID: "evt_1", Type: "checkout.session.completed", Session: "cs_1"}, nil},
		{"unsigned", session, "", secret, stripeprovider.Event{}, stripeprovider.ErrUnsigned},
		{"wrong secret", session, sign(session, "whsec_other", now), secret, stripeprovider.Event{}, stripeprovider.ErrBadSignature},
		{"no secret configured", session, sign(session, "", now), "", stripeprovider.Event{}, stripeprovider.ErrBadSignature},
		{"body changed after signing", bytes.Replace(session, []byte("cs_1"), []byte("cs_2"), 1), sign(session, secret, now), secret, stripeprovider.Event{}, stripeprovider.ErrBadSignature},
		{"garbage header", session, "t=abc,v1=zz", secret, stripeprovider.Event{}, stripeprovider.ErrBadSignature},
		{"stale: signed 301 s ago", session, sign(session, secret, now.Add(-301*time.Second)), secret, stripeprovider.Event{}, stripeprovider.ErrStale},
		{"malformed JSON", []byte(`{"id":"evt_1",`), sign([]byte(`{"id":"evt_1",`), secret, now), secret, stripeprovider.Event{}, stripeprovider.ErrMalformed},
		{"no id", []byte(`{"type":"checkout.session.completed","data":{"object":{"id":"cs_1","object":"checkout.session"}}}`), "", secret, stripeprovider.Event{}, stripeprovider.ErrMalformed},
		{"session event about something else", event("evt_6", "checkout.session.completed", map[string]any{"id": "pi_1", "object": "payment_intent"}), "", secret, stripeprovider.Event{}, stripeprovider.ErrMalformed},
		{"no data", []byte(`{"id":"evt_7","type":"checkout.session.completed"}`), "", secret, stripeprovider.Event{}, stripeprovider.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == "" && tc.err == stripeprovider.ErrMalformed {
				header = sign(tc.payload, secret, now)
			}
			got, err := stripeprovider.ParseEvent(tc.payload, header, tc.secret)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("ParseEvent = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
			if err != nil && platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("a refusal must be the sender's mistake (400), got %s", platform.ErrorCode(err))
			}
		})
	}
}

// FuzzParseEvent: whatever the body and header, ParseEvent never panics;
// a body signed with the secret is either an event with an id and a type
// (and, for an event Portico acts on, the charge it is about) or
// ErrMalformed; the same body under any other header is refused.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(event("evt_1", "checkout.session.completed", map[string]any{"id": "cs_1", "object": "checkout.session"})), "t=1,v1=00")
	f.Add([]byte(event("evt_2", "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "payment_intent": 7})), "")
	f.Add([]byte(`{"id":"evt_3","type":"payment_intent.succeeded","data":{"object":null}}`), "t=,v1=")
	f.Add([]byte(`{"id":"","type":"","data":{}}`), "v0=aa,t=99999999999999999999")
	f.Add([]byte("\xff\x00"), "t=1700000000,v1=zz,v1=00")
	f.Fuzz(func(t *testing.T, payload []byte, header string) {
		if _, err := stripeprovider.ParseEvent(payload, header, secret); err == nil {
			// Only a header made with the secret can pass: the fuzzer
			// cannot forge HMAC-SHA256.
			t.Fatalf("an unsigned body was accepted with header %q", header)
		}
		ev, err := stripeprovider.ParseEvent(payload, sign(payload, secret, time.Now()), secret)
		if err != nil {
			if !errors.Is(err, stripeprovider.ErrMalformed) {
				t.Fatalf("a correctly signed body was refused as %v", err)
			}
			return
		}
		if ev.ID == "" || ev.Type == "" {
			t.Fatalf("event without id or type: %+v", ev)
		}
		if ev.Acts() && ev.Session == "" && ev.PaymentIntent == "" && ev.Type != "charge.refunded" {
			t.Fatalf("an event Portico acts on names no charge: %+v", ev)
		}
		if !ev.Acts() && (ev.Session != "" || ev.PaymentIntent != "") {
			t.Fatalf("an ignored event names a charge: %+v", ev)
		}
	})
}

// rig is Portico's webhook route served by the real web shell on
// loopback, with the Stripe provider talking to stripe-mock through the
// overlay, and a checkout of two agencies begun at Stripe.
type rig struct {
	db       *storage.DB
	svc      *payment.Service
	o        *overlay
	url      string
	checkout payment.Checkout
}

func newRig(t *testing.T, db *storage.DB) *rig {
	t.Helper()
	o := newOverlay(t, mockURL(t))
	clock := platform.NewFakeClock(fixedNow)
	svc, err := payment.NewService(db, audit.New(db, clock, nil), events.NewBus(clock), clock)
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, o.URL, 5*time.Second)
	svc.Register(p)
	catalog, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(web.Config{}, slog.New(slog.DiscardHandler), catalog, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := stripeprovider.Register(s, &stripeprovider.Webhook{Secret: secret, Charges: p, Payments: svc, DB: db, Clock: clock}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	ctx := context.Background()
	items := []payment.Item{
		{Kind: payment.ItemCasePayment, Source: "11", Agency: "dmv", Amount: 4500, Currency: "USD", Reference: "DMV-1", DescriptionEN: "Renewal", DescriptionES: "Renovación"},
		{Kind: payment.ItemObligation, Source: "ob-1", Agency: "adams-treasurer", Amount: 61250, Currency: "USD", Reference: "PARCEL-9", DescriptionEN: "Tax", DescriptionES: "Impuesto"},
	}
	var c payment.Checkout
	if err := db.InTx(ctx, func(tx *sql.Tx) error {
		c, err = svc.OpenCheckout(ctx, tx, payer, payment.OpenCheckout{Account: "acct-1", Provider: stripeprovider.Name, Items: items, ReturnURL: "https://portico.example.gov/pay"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Begin(ctx, payer, c.ID, "https://portico.example.gov/pay/"+c.ID+"/return", "2 payments"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ProviderRef, "cs_") || c.State.Status != payment.Started {
		t.Fatalf("begun %+v", c)
	}
	return &rig{db: db, svc: svc, o: o, url: srv.URL + stripeprovider.WebhookPath, checkout: c}
}

// post sends payload with header as Stripe does; it returns the status
// and the body.
func (r *rig) post(t *testing.T, payload []byte, header string, extra ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	if header != "" {
		req.Header.Set("Stripe-Signature", header)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(body)
}

// state is the checkout's status and its payments' history length.
func (r *rig) state(t *testing.T) (payment.Status, string, int) {
	t.Helper()
	c, err := r.svc.Checkout(context.Background(), r.checkout.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps int
	if err := r.db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id WHERE p.checkout_id = $1`, c.ID).Scan(&steps); err != nil {
		t.Fatal(err)
	}
	return c.State.Status, c.State.Code, steps
}

func (r *rig) recorded(t *testing.T, id string) string {
	t.Helper()
	var outcome string
	err := r.db.Read().QueryRowContext(context.Background(), `SELECT outcome FROM provider_webhook_events WHERE provider = 'stripe' AND event_id = $1`, id).Scan(&outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return outcome
}

// TestWebhookSettlesOnce: through the real HTTP server, refused
// deliveries (unsigned, wrong secret, stale, malformed, too large) are
// problem+json 400/413 and change nothing; an event arriving while
// Stripe does not answer is 503 and not recorded, so Stripe's retry
// settles it; the checkout then moves to the state read from Stripe
// (not the event's word), both agencies' payments succeed and the books
// balance; the same event again, even twice at once, is acted on once;
// an unknown type is 200 and ignored.
func TestWebhookSettlesOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		ref := r.checkout.ProviderRef
		now := time.Now()
		completed := event("evt_completed", "checkout.session.completed", map[string]any{"id": ref, "object": "checkout.session", "status": "complete"})
		_, _, before := r.state(t)

		big := event("evt_big", "checkout.session.completed", map[string]any{"id": ref, "object": "checkout.session", "pad": strings.Repeat("x", stripeprovider.MaxEventBytes)})
		for _, tc := range []struct {
			name    string
			payload []byte
			header  string
			status  int
		}{
			{"unsigned", completed, "", http.StatusBadRequest},
			{"wrong secret", completed, sign(completed, "whsec_attacker", now), http.StatusBadRequest},
			{"stale", completed, sign(completed, secret, now.Add(-stripeprovider.Tolerance-time.Second)), http.StatusBadRequest},
			{"malformed JSON", []byte(`{"id":"evt_x","type":`), sign([]byte(`{"id":"evt_x","type":`), secret, now), http.StatusBadRequest},
			{"too large", big, sign(big, secret, now), http.StatusRequestEntityTooLarge},
		} {
			status, ct, body := r.post(t, tc.payload, tc.header)
			if status != tc.status || ct != "application/problem+json" {
				t.Errorf("%s: %d %s %s, want %d problem+json", tc.name, status, ct, body, tc.status)
			}
		}
		if st, _, steps := r.state(t); st != payment.Started || steps != before {
			t.Fatalf("a refused delivery moved the checkout: %s, %d steps", st, steps)
		}
		if got := r.recorded(t, "evt_completed"); got != "" {
			t.Fatalf("a refused delivery was recorded: %s", got)
		}

		// Stripe does not answer: 503, nothing recorded, nothing moved.
		r.o.set(func(o *overlay) { o.fail = http.StatusServiceUnavailable })
		if status, ct, body := r.post(t, completed, sign(completed, secret, time.Now())); status != http.StatusServiceUnavailable || ct != "application/problem+json" {
			t.Fatalf("with Stripe down: %d %s %s", status, ct, body)
		}
		if got := r.recorded(t, "evt_completed"); got != "" {
			t.Fatalf("an event not acted on was recorded: %s", got)
		}

		// Stripe's retry, from another site's point of view as far as the
		// browser headers go (the route is exempt from the cross-origin
		// check): the true state is read, and the checkout settles.
		r.o.set(func(o *overlay) { o.fail, o.patch = 0, sessionState("complete", "paid", "succeeded") })
		status, _, body := r.post(t, completed, sign(completed, secret, time.Now()), "Origin", "https://stripe.example", "Sec-Fetch-Site", "cross-site")
		if status != http.StatusOK || strings.Contains(body, "duplicate") {
			t.Fatalf("valid event: %d %s", status, body)
		}
		st, _, settled := r.state(t)
		if st != payment.Success {
			t.Fatalf("checkout %s after checkout.session.completed, want success", st)
		}
		if got := r.recorded(t, "evt_completed"); got != "settled" {
			t.Fatalf("event recorded as %q", got)
		}
		if rep, err := payment.Check(context.Background(), db); err != nil || !rep.OK() {
			t.Fatalf("ledger: %+v %v", rep, err)
		}
		var charged int64
		if err := db.Read().QueryRowContext(context.Background(), `SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE amount > 0`).Scan(&charged); err != nil || charged != 65750 {
			t.Fatalf("charged %d %v, want 65750 once", charged, err)
		}

		// Replays: freshly signed (a redelivery, or a captured event sent
		// again within the tolerance), twice at once and once more.
		var wg sync.WaitGroup
		replies := make([]string, 3)
		for i := range replies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, replies[i] = r.post(t, completed, sign(completed, secret, time.Now()))
			}()
			if i == 1 {
				wg.Wait()
			}
		}
		wg.Wait()
		for _, reply := range replies {
			if !strings.Contains(reply, `"duplicate":true`) {
				t.Errorf("replay answered %s", reply)
			}
		}
		if _, _, steps := r.state(t); steps != settled {
			t.Fatalf("a replay moved payments: %d steps, was %d", steps, settled)
		}

		// A type Portico does not act on: acknowledged, recorded, ignored.
		other := event("evt_customer", "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
		if status, _, body := r.post(t, other, sign(other, secret, time.Now())); status != http.StatusOK || !strings.Contains(body, `"received":true`) {
			t.Fatalf("unknown type: %d %s", status, body)
		}
		if got := r.recorded(t, "evt_customer"); got != "ignored" {
			t.Fatalf("unknown type recorded as %q", got)
		}
		// An intent that is not one of Portico's checkouts (stripe-mock's
		// session list names its own fixture session): ignored.
		foreign := event("evt_foreign", "payment_intent.succeeded", map[string]any{"id": "pi_foreign", "object": "payment_intent"})
		if status, _, body := r.post(t, foreign, sign(foreign, secret, time.Now())); status != http.StatusOK {
			t.Fatalf("foreign intent: %d %s", status, body)
		}
		if got := r.recorded(t, "evt_foreign"); got != "ignored" {
			t.Fatalf("foreign intent recorded as %q", got)
		}
	})
}

// TestWebhookIntentEvents: a payment_intent.* event is traced to its
// Checkout Session through Stripe (the session list filtered by intent)
// and settles that checkout; a decline on an expired session fails the
// payments with P0010; a later charge.refunded event for the same
// intent changes nothing a refund does not (refunds are recorded by the
// refund flow).
func TestWebhookIntentEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		ref := r.checkout.ProviderRef
		r.o.set(func(o *overlay) {
			o.patch = func(method, path string, obj map[string]any) {
				if obj["object"] == "list" {
					if data, ok := obj["data"].([]any); ok && len(data) > 0 {
						data[0].(map[string]any)["id"] = ref
					}
					return
				}
				sessionState("expired", "unpaid", "requires_payment_method")(method, path, obj)
				if pi, ok := obj["payment_intent"].(map[string]any); ok {
					pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined."}
				}
			}
		})
		failed := event("evt_failed", "payment_intent.payment_failed", map[string]any{"id": "pi_portico", "object": "payment_intent"})
		if status, _, body := r.post(t, failed, sign(failed, secret, time.Now())); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		if r := r.o.last(t, http.MethodGet, "/v1/checkout/sessions?"); r.form.Get("payment_intent") != "pi_portico" {
			t.Fatalf("session lookup %+v", r)
		}
		st, code, steps := r.state(t)
		if st != payment.Failed || code != payment.CodeRejected {
			t.Fatalf("checkout %s %s, want failed P0010", st, code)
		}
		refunded := event("evt_refunded", "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "payment_intent": "pi_portico"})
		if status, _, body := r.post(t, refunded, sign(refunded, secret, time.Now())); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		if st2, code2, steps2 := r.state(t); st2 != st || code2 != code || steps2 != steps {
			t.Fatalf("charge.refunded moved a finished checkout: %s %s %d", st2, code2, steps2)
		}
		if got := r.recorded(t, "evt_refunded"); got != "settled" {
			t.Fatalf("recorded %q", got)
		}
		var audited int
		if err := db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_entries WHERE actor LIKE '%stripe.webhook%' AND detail LIKE '%stripe.webhook%'`).Scan(&audited); err != nil || audited == 0 {
			t.Errorf("the webhook's moves are not audited as stripe.webhook: %d %v", audited, err)
		}
	})
}

// TestWebhookContradiction: when Stripe reports a state the checkout
// cannot move to (back to started from submitted), the event is 409,
// nothing moves and nothing is recorded, so Stripe's retry is processed
// once the states agree.
func TestWebhookContradiction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db)
		if _, err := r.svc.Settle(context.Background(), payer, r.checkout.ID, payment.Outcome{Status: payment.Submitted}); err != nil {
			t.Fatal(err)
		}
		_, _, before := r.state(t)
		r.o.set(func(o *overlay) { o.patch = sessionState("open", "unpaid", "requires_payment_method") })
		ev := event("evt_back", "checkout.session.completed", map[string]any{"id": r.checkout.ProviderRef, "object": "checkout.session"})
		if status, ct, body := r.post(t, ev, sign(ev, secret, time.Now())); status != http.StatusConflict || ct != "application/problem+json" {
			t.Fatalf("%d %s %s", status, ct, body)
		}
		if st, _, steps := r.state(t); st != payment.Submitted || steps != before {
			t.Fatalf("moved to %s (%d steps, was %d)", st, steps, before)
		}
		if got := r.recorded(t, "evt_back"); got != "" {
			t.Fatalf("recorded as %q", got)
		}
		r.o.set(func(o *overlay) { o.patch = sessionState("complete", "paid", "succeeded") })
		if status, _, body := r.post(t, ev, sign(ev, secret, time.Now())); status != http.StatusOK {
			t.Fatalf("retry: %d %s", status, body)
		}
		if st, _, _ := r.state(t); st != payment.Success {
			t.Fatalf("after the retry: %s", st)
		}
	})
}
