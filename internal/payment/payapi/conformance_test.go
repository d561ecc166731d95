package payapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/payapi"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// jsonOf marshals v through a generic value so two JSON values compare
// as strings (object keys sorted).
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(generic)
	return string(b)
}

// TestCardDetailsAndSettlement: card_details appears once a card was
// entered, with Pay's names and brand spelling, null for what the
// provider did not say and a null billing address; settlement_summary is
// {} until the payment is captured, then gives the capture's time and
// day; refund_summary follows refunds; a search result, the GET answer
// and the builder the webhooks use agree field for field.
func TestCardDetailsAndSettlement(t *testing.T) {
	visa := payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242", FirstDigits: "424242",
		CardholderName: "Ana Citizen", ExpiryDate: "04/29", CardType: "credit"}
	tests := []struct {
		name       string
		delayed    bool
		outcomes   []payment.Outcome
		card       string // JSON of card_details; "" = absent
		settlement string // JSON of settlement_summary
		refunds    string // JSON of refund_summary
	}{
		{"no card yet", false, []payment.Outcome{{Status: payment.Submitted}}, "", `{}`,
			`{"amount_available":4500,"amount_submitted":0,"status":"pending"}`},
		{"paid", false, []payment.Outcome{visa},
			`{"billing_address":null,"card_brand":"Visa","card_type":"credit","cardholder_name":"Ana Citizen","expiry_date":"04/29","first_digits_card_number":"424242","last_digits_card_number":"4242"}`,
			`{"capture_submit_time":"2026-12-04T15:05:05.000Z","captured_date":"2026-12-04"}`,
			`{"amount_available":4500,"amount_submitted":0,"status":"available"}`},
		{"what the provider did not say is null", false, []payment.Outcome{{Status: payment.Success, CardBrand: "mastercard", LastDigits: "4444"}},
			`{"billing_address":null,"card_brand":"Mastercard","card_type":null,"cardholder_name":null,"expiry_date":null,"first_digits_card_number":null,"last_digits_card_number":"4444"}`,
			`{"capture_submit_time":"2026-12-04T15:05:05.000Z","captured_date":"2026-12-04"}`,
			`{"amount_available":4500,"amount_submitted":0,"status":"available"}`},
		{"declined card", false, []payment.Outcome{{Status: payment.Failed, Code: payment.CodeRejected, CardBrand: "american-express", LastDigits: "0005"}},
			`{"billing_address":null,"card_brand":"American Express","card_type":null,"cardholder_name":null,"expiry_date":null,"first_digits_card_number":null,"last_digits_card_number":"0005"}`,
			`{}`, `{"amount_available":0,"amount_submitted":0,"status":"unavailable"}`},
		{"authorised, not captured", true, []payment.Outcome{{Status: payment.Capturable, CardBrand: "visa", LastDigits: "4242", FirstDigits: "424242", CardholderName: "Ana Citizen", ExpiryDate: "04/29", CardType: "credit"}},
			`{"billing_address":null,"card_brand":"Visa","card_type":"credit","cardholder_name":"Ana Citizen","expiry_date":"04/29","first_digits_card_number":"424242","last_digits_card_number":"4242"}`,
			`{}`, `{"amount_available":4500,"amount_submitted":0,"status":"pending"}`},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.clock.Set(start)
				ref := "CARD-" + string(rune('A'+i))
				id, checkout := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = tt.delayed; m["reference"] = ref }))
				e.clock.Advance(time.Minute)
				e.settle(checkout, tt.outcomes...)
				r := e.do("GET", "/v1/payments/"+id, "dmv", nil)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				card, ok := r.body["card_details"]
				switch {
				case tt.card == "" && ok:
					t.Errorf("card_details %s before a card was entered", jsonOf(t, card))
				case tt.card != "" && jsonOf(t, card) != tt.card:
					t.Errorf("card_details\n got %s\nwant %s", jsonOf(t, card), tt.card)
				}
				if got := jsonOf(t, r.body["settlement_summary"]); got != tt.settlement {
					t.Errorf("settlement_summary %s, want %s", got, tt.settlement)
				}
				if got := jsonOf(t, r.body["refund_summary"]); got != tt.refunds {
					t.Errorf("refund_summary %s, want %s", got, tt.refunds)
				}
				// One builder: the search's result and the webhooks'
				// resource are the GET answer.
				s := e.do("GET", "/v1/payments?reference="+ref, "dmv", nil)
				if res := s.body["results"].([]any); len(res) != 1 || jsonOf(t, res[0]) != jsonOf(t, r.body) {
					t.Errorf("search result differs from GET:\n%s\n%s", jsonOf(t, res), jsonOf(t, r.body))
				}
				d, err := payapi.Describe(context.Background(), e.svc, publicURL, "dmv", id)
				if err != nil || jsonOf(t, d) != jsonOf(t, r.body) {
					t.Errorf("Describe differs from GET (%v):\n%s\n%s", err, jsonOf(t, d), jsonOf(t, r.body))
				}
			})
		}

		t.Run("captured later", func(t *testing.T) {
			e.clock.Set(start)
			id, checkout := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = true }))
			e.settle(checkout, payment.Outcome{Status: payment.Capturable, CardBrand: "visa", LastDigits: "4242"})
			e.clock.Advance(50 * time.Hour)
			if r := e.do("POST", "/v1/payments/"+id+"/capture", "dmv", nil); r.status != 204 {
				t.Fatalf("capture %d %s", r.status, r.raw)
			}
			r := e.do("GET", "/v1/payments/"+id, "dmv", nil)
			if got := jsonOf(t, r.body["settlement_summary"]); got != `{"capture_submit_time":"2026-12-06T17:04:05.000Z","captured_date":"2026-12-06"}` {
				t.Errorf("settlement_summary %s", got)
			}
		})

		t.Run("refunds", func(t *testing.T) {
			e.clock.Set(start)
			id, checkout := e.create("dmv", with(func(m map[string]any) { m["reference"] = "CARD-REFUND" }))
			e.settle(checkout, visa)
			if r := e.do("POST", "/v1/payments/"+id+"/refunds", "dmv", map[string]any{"amount": 1000, "refund_amount_available": 4500}); r.status != 202 {
				t.Fatalf("refund %d %s", r.status, r.raw)
			}
			want := `{"amount_available":3500,"amount_submitted":1000,"status":"available"}`
			r := e.do("GET", "/v1/payments/"+id, "dmv", nil)
			s := e.do("GET", "/v1/payments?reference=CARD-REFUND", "dmv", nil)
			if got := jsonOf(t, r.body["refund_summary"]); got != want {
				t.Errorf("GET refund_summary %s, want %s", got, want)
			}
			if got := jsonOf(t, s.body["results"].([]any)[0].(map[string]any)["refund_summary"]); got != want {
				t.Errorf("search refund_summary %s, want %s", got, want)
			}
			if r := e.do("POST", "/v1/payments/"+id+"/refunds", "dmv", map[string]any{"amount": 3500, "refund_amount_available": 3500}); r.status != 202 {
				t.Fatalf("refund the rest %d %s", r.status, r.raw)
			}
			r = e.do("GET", "/v1/payments/"+id, "dmv", nil)
			if got := jsonOf(t, r.body["refund_summary"]); got != `{"amount_available":0,"amount_submitted":4500,"status":"full"}` {
				t.Errorf("refunded in full: %s", got)
			}
		})
	})
}

// TestCaptureExpiry: a delayed-capture payment not captured within 120
// hours of its creation expires the way Pay's does (failed, P0020,
// "Payment expired"); its authorisation is cancelled at the provider,
// it can no longer be captured, and a payment captured in time is left
// alone.
func TestCaptureExpiry(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, envOpts{rateLimit: -1})
		sweep := platform.Actor{Kind: platform.ActorSystem, ID: "test"}
		e.clock.Set(start)
		late, lateCheckout := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = true }))
		e.settle(lateCheckout, payment.Outcome{Status: payment.Capturable})
		kept, keptCheckout := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = true }))
		e.settle(keptCheckout, payment.Outcome{Status: payment.Capturable})

		e.clock.Advance(payment.CaptureWithin - time.Second)
		if r := e.do("POST", "/v1/payments/"+kept+"/capture", "dmv", nil); r.status != 204 {
			t.Fatalf("capture in time: %d %s", r.status, r.raw)
		}
		if n, err := e.svc.ExpireCapturable(ctx, sweep); err != nil || n != 0 {
			t.Fatalf("before 120 hours: %d, %v", n, err)
		}
		e.clock.Advance(time.Second)
		if n, err := e.svc.ExpireCapturable(ctx, sweep); err != nil || n != 1 {
			t.Fatalf("at 120 hours: %d, %v", n, err)
		}
		if n, err := e.svc.ExpireCapturable(ctx, sweep); err != nil || n != 0 {
			t.Fatalf("again: %d, %v", n, err)
		}
		r := e.do("GET", "/v1/payments/"+late, "dmv", nil)
		if got := jsonOf(t, r.body["state"]); got != `{"code":"P0020","finished":true,"message":"Payment expired","status":"failed"}` {
			t.Errorf("expired state %s", got)
		}
		links := r.body["_links"].(map[string]any)
		if _, ok := links["capture"]; ok {
			t.Error("an expired payment offers capture")
		}
		if _, ok := links["cancel"]; ok {
			t.Error("an expired payment offers cancel")
		}
		if got := jsonOf(t, r.body["refund_summary"]); got != `{"amount_available":0,"amount_submitted":0,"status":"unavailable"}` {
			t.Errorf("refund_summary %s", got)
		}
		if r := e.do("POST", "/v1/payments/"+late+"/capture", "dmv", nil); errorOf(r) != "400 P1003 " {
			t.Errorf("capture after expiry: %s", r.raw)
		}
		if got := e.do("GET", "/v1/payments/"+kept, "dmv", nil).body["state"].(map[string]any)["status"]; got != "success" {
			t.Errorf("the payment captured in time is %v", got)
		}
		e.sandbox.mu.Lock()
		cancelled := strings.Join(e.sandbox.cancelled, ",")
		e.sandbox.mu.Unlock()
		if cancelled != "ch_"+lateCheckout {
			t.Errorf("cancelled at the provider: %q, want the expired payment's charge", cancelled)
		}
		// The expiry is the payment's failed event with P0020 (a webhook
		// sends card_payment_expired).
		var data string
		if err := db.Read().QueryRowContext(ctx, `SELECT data FROM event_log WHERE subject = $1 AND type = $2`, "payment:"+late, payment.EventFailed).Scan(&data); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(data, `"code":"P0020"`) {
			t.Errorf("failed event %s", data)
		}
	})
}

// TestPaymentEvents: each state change emits its event in the
// transaction that makes it (created, started, succeeded then captured,
// refunded, failed), with no personal data: no email, return URL,
// description or card.
func TestPaymentEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, envOpts{rateLimit: -1})
		types := func(id string) []string {
			rows, err := db.Read().QueryContext(ctx, `SELECT type, data FROM event_log WHERE subject = $1 ORDER BY id`, "payment:"+id)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var typ, data string
				if err := rows.Scan(&typ, &data); err != nil {
					t.Fatal(err)
				}
				for _, personal := range []string{"ana@example.com", "dmv.example.gov", "Vehicle registration", "Ana Citizen", "4242"} {
					if strings.Contains(data, personal) {
						t.Errorf("%s carries %q: %s", typ, personal, data)
					}
				}
				out = append(out, strings.TrimPrefix(typ, "gov.portico.payment."))
			}
			return out
		}
		paid, c := e.create("dmv", good())
		e.settle(c, payment.Outcome{Status: payment.Success, CardBrand: "visa", LastDigits: "4242", CardholderName: "Ana Citizen"})
		if r := e.do("POST", "/v1/payments/"+paid+"/refunds", "dmv", map[string]any{"amount": 100}); r.status != 202 {
			t.Fatalf("refund %d %s", r.status, r.raw)
		}
		if got := strings.Join(types(paid), " "); got != "created started succeeded captured refunded" {
			t.Errorf("paid: %s", got)
		}
		declined, c := e.create("dmv", good())
		e.settle(c, payment.Outcome{Status: payment.Failed, Code: payment.CodeRejected})
		if got := strings.Join(types(declined), " "); got != "created started failed" {
			t.Errorf("declined: %s", got)
		}
		delayed, c := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = true }))
		e.settle(c, payment.Outcome{Status: payment.Capturable})
		if got := strings.Join(types(delayed), " "); got != "created started" {
			t.Errorf("capturable: %s", got)
		}
		if r := e.do("POST", "/v1/payments/"+delayed+"/capture", "dmv", nil); r.status != 204 {
			t.Fatalf("capture %d %s", r.status, r.raw)
		}
		if got := strings.Join(types(delayed), " "); got != "created started succeeded captured" {
			t.Errorf("captured: %s", got)
		}
	})
}

// TestSecure: next_url_post's form (chargeTokenId) continues at the
// checkout page next_url names; a missing or malformed token goes
// nowhere.
func TestSecure(t *testing.T) {
	const checkout = "abcdefghijklmnopqrstuvwxyz"
	tests := []struct {
		name   string
		form   url.Values
		status int
		to     string
	}{
		{"the token", url.Values{"chargeTokenId": {checkout}}, http.StatusSeeOther, "/pay/checkouts/" + checkout},
		{"no token", url.Values{}, http.StatusBadRequest, ""},
		{"a path", url.Values{"chargeTokenId": {"../../admin"}}, http.StatusBadRequest, ""},
		{"too long", url.Values{"chargeTokenId": {checkout + "a"}}, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", payapi.SecurePath, strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			payapi.Secure(w, req)
			if w.Code != tt.status || w.Header().Get("Location") != tt.to {
				t.Errorf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tt.status, tt.to)
			}
		})
	}
}
