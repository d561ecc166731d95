package payapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var payDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestCreate: a created payment answers 201 with Location, no-store and
// every field of Pay's response, and its links.
func TestCreate(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{})
		r := e.do("POST", "/v1/payments", "dmv", good())
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		id, _ := r.body["payment_id"].(string)
		if len(id) != 26 || r.header.Get("Location") != publicURL+"/v1/payments/"+id || r.header.Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("headers %v, id %q", r.header, id)
		}
		p, err := e.svc.Get(context.Background(), "dmv", id)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"amount": 4500.0, "description": "Vehicle registration renewal", "reference": "DMV-2026-000123", "language": "en",
			"email": "ana@example.com", "payment_id": id, "payment_provider": "sandbox", "return_url": "https://dmv.example.gov/done",
			"delayed_capture": false, "moto": false, "created_date": "2026-12-04T15:04:05.000Z",
			"metadata":           map[string]any{"case": "c1", "instalment": 2.0, "urgent": true},
			"state":              map[string]any{"status": "created", "finished": false},
			"refund_summary":     map[string]any{"status": "pending", "amount_available": 4500.0, "amount_submitted": 0.0},
			"settlement_summary": map[string]any{},
			"_links": map[string]any{
				"self":     map[string]any{"href": publicURL + "/v1/payments/" + id, "method": "GET"},
				"next_url": map[string]any{"href": publicURL + "/pay/checkouts/" + p.Checkout, "method": "GET"},
				"next_url_post": map[string]any{"type": "application/x-www-form-urlencoded", "params": map[string]any{"chargeTokenId": p.Checkout},
					"href": publicURL + "/pay/secure", "method": "POST"},
				"events":  map[string]any{"href": publicURL + "/v1/payments/" + id + "/events", "method": "GET"},
				"refunds": map[string]any{"href": publicURL + "/v1/payments/" + id + "/refunds", "method": "GET"},
				"cancel":  map[string]any{"href": publicURL + "/v1/payments/" + id + "/cancel", "method": "POST"},
			},
		}
		got, _ := json.Marshal(r.body)
		exp, _ := json.Marshal(want)
		if string(got) != string(exp) {
			t.Fatalf("response\n got %s\nwant %s", got, exp)
		}
		if !payDate.MatchString(r.body["created_date"].(string)) {
			t.Errorf("created_date %v", r.body["created_date"])
		}
		// The same payment read back says the same.
		g := e.do("GET", "/v1/payments/"+id, "dmv", nil)
		if g.status != 200 || g.body["payment_id"] != id || g.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("get %d %s", g.status, g.raw)
		}
		// Reading it is audited: it holds the payer's email.
		entries, err := e.log.List(context.Background(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		read := false
		for _, en := range entries {
			read = read || en.Action == "payment.read" && en.Subject == "payment:"+id
		}
		if !read {
			t.Error("reading the payment was not audited")
		}
	})
}

// TestCreateErrors: every refusal of a create, with Pay's status, code and
// field (or header).
func TestCreateErrors(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	meta16 := map[string]any{}
	for i := range 16 {
		meta16[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		key  string
		body any
		hdr  []string
		want string
		desc string // a part of the description, when it matters
	}{
		{"no key", "", good(), nil, "401  ", ""},
		{"not bearer", "!Basic abc", good(), nil, "401  ", ""},
		{"unknown key", "!Bearer api_test_nothing", good(), nil, "401  ", ""},
		{"revoked key", "revoked", good(), nil, "401  ", ""},
		{"no content type", "dmv", good(), []string{"Content-Type", ""}, "400 P0920 ", "Request blocked by security rules"},
		{"form body", "dmv", "amount=1", []string{"Content-Type", "application/x-www-form-urlencoded"}, "400 P0920 ", ""},
		{"empty body", "dmv", "", nil, "400 P0920 ", ""},
		{"not JSON", "dmv", "{amount: 1", nil, "400 P0197 ", "Unable to parse JSON"},
		{"JSON array", "dmv", "[1]", nil, "400 P0197 ", ""},
		{"two objects", "dmv", "{} {}", nil, "400 P0197 ", ""},
		{"no amount", "dmv", with(func(m map[string]any) { delete(m, "amount") }), nil, "400 P0101 amount", "Missing mandatory attribute: amount"},
		{"null amount", "dmv", with(func(m map[string]any) { m["amount"] = nil }), nil, "400 P0101 amount", ""},
		{"no reference", "dmv", with(func(m map[string]any) { delete(m, "reference") }), nil, "400 P0101 reference", "Missing mandatory attribute: reference"},
		{"blank description", "dmv", with(func(m map[string]any) { m["description"] = "  " }), nil, "400 P0101 description", ""},
		{"no return_url", "dmv", with(func(m map[string]any) { delete(m, "return_url") }), nil, "400 P0101 return_url", ""},
		{"amount a string", "dmv", with(func(m map[string]any) { m["amount"] = "4500" }), nil, "400 P0102 amount", "Must be a valid numeric format"},
		{"amount a fraction", "dmv", with(func(m map[string]any) { m["amount"] = 45.5 }), nil, "400 P0102 amount", "valid numeric format"},
		{"reference a number", "dmv", with(func(m map[string]any) { m["reference"] = 12 }), nil, "400 P0102 reference", "Must be a valid string format"},
		{"email an object", "dmv", with(func(m map[string]any) { m["email"] = map[string]any{} }), nil, "400 P0102 email", ""},
		{"delayed_capture a string", "dmv", with(func(m map[string]any) { m["delayed_capture"] = "yes" }), nil, "400 P0102 delayed_capture", ""},
		{"prefilled details a string", "dmv", with(func(m map[string]any) { m["prefilled_cardholder_details"] = "Ana" }), nil, "400 P0102 prefilled_cardholder_details", ""},
		{"amount zero", "dmv", with(func(m map[string]any) { m["amount"] = 0 }), nil, "422 P0102 amount", "Must be greater than or equal to 1"},
		{"amount negative", "dmv", with(func(m map[string]any) { m["amount"] = -5 }), nil, "422 P0102 amount", ""},
		{"amount too large", "dmv", with(func(m map[string]any) { m["amount"] = 10_000_001 }), nil, "422 P0102 amount", "Must be less than or equal to 10000000"},
		{"amount enormous", "dmv", `{"amount": 1e40, "reference": "r", "description": "d", "return_url": "https://x.example/"}`, nil, "422 P0102 amount", ""},
		{"reference too long", "dmv", with(func(m map[string]any) { m["reference"] = long(256) }), nil, "422 P0102 reference", "255"},
		{"reference a URL", "dmv", with(func(m map[string]any) { m["reference"] = "https://evil.example/" }), nil, "422 P0102 reference", ""},
		{"description too long", "dmv", with(func(m map[string]any) { m["description"] = long(256) }), nil, "422 P0102 description", ""},
		{"return_url too long", "dmv", with(func(m map[string]any) { m["return_url"] = "https://x.example/" + long(1990) }), nil, "422 P0102 return_url", ""},
		{"return_url not a URL", "dmv", with(func(m map[string]any) { m["return_url"] = "not a url" }), nil, "422 P0102 return_url", ""},
		{"language Welsh", "dmv", with(func(m map[string]any) { m["language"] = "cy" }), nil, "422 P0102 language", ""},
		{"email too long", "dmv", with(func(m map[string]any) { m["email"] = long(250) + "@x.ex" }), nil, "422 P0102 email", ""},
		{"metadata 16 keys", "dmv", with(func(m map[string]any) { m["metadata"] = meta16 }), nil, "422 P0102 metadata", ""},
		{"metadata key too long", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{long(31): "v"} }), nil, "422 P0102 metadata", ""},
		{"metadata value too long", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{"k": long(101)} }), nil, "422 P0102 metadata", ""},
		{"metadata value an object", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{"k": map[string]any{}} }), nil, "422 P0102 metadata", ""},
		{"metadata value null", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{"k": nil} }), nil, "422 P0102 metadata", ""},
		{"metadata empty", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{} }), nil, "422 P0102 metadata", ""},
		{"metadata a list", "dmv", with(func(m map[string]any) { m["metadata"] = []any{1} }), nil, "422 P0102 metadata", ""},
		{"email with a NUL", "dmv", with(func(m map[string]any) { m["email"] = "a\x00@example.com" }), nil, "422 P0102 email", ""},
		{"reference with a NUL", "dmv", with(func(m map[string]any) { m["reference"] = "R\x00" }), nil, "422 P0102 reference", ""},
		{"metadata value with a NUL", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{"k": "v\x00"} }), nil, "422 P0102 metadata", ""},
		{"metadata key with a NUL", "dmv", with(func(m map[string]any) { m["metadata"] = map[string]any{"k\x00": "v"} }), nil, "422 P0102 metadata", ""},
		{"moto", "dmv", with(func(m map[string]any) { m["moto"] = true }), nil, "422 P0102 moto", ""},
		{"idempotency key with a space", "dmv", good(), []string{"Idempotency-Key", "a key"}, "422 P0102 header:Idempotency-Key", ""},
		{"idempotency key too long", "dmv", good(), []string{"Idempotency-Key", long(256)}, "422 P0102 header:Idempotency-Key", ""},
		{"live without a live provider", "dmv-live", good(), nil, "422 P0199 ", "no live payment provider is configured"},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/payments", tt.key, tt.body, tt.hdr...)
				if got := errorOf(r); got != tt.want {
					t.Fatalf("got %q (%s), want %q", got, r.raw, tt.want)
				}
				if desc, _ := r.body["description"].(string); !strings.Contains(desc, tt.desc) {
					t.Errorf("description %q lacks %q", desc, tt.desc)
				}
				if r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
				}
			})
		}
		var n int
		if err := db.Read().QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("refused creates left %d payments (%v)", n, err)
		}
	})
}

// TestLiveKeys: a live key's payments go to the live provider, and need
// an https return URL (P0920); a test key never sees a live payment.
func TestLiveKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{live: true})
		if r := e.do("POST", "/v1/payments", "dmv-live", with(func(m map[string]any) { m["return_url"] = "http://dmv.example.gov/done" })); errorOf(r) != "422 P0920 return_url" {
			t.Fatalf("http return URL in live mode: %s", r.raw)
		}
		r := e.do("POST", "/v1/payments", "dmv-live", good())
		if r.status != 201 || r.body["payment_provider"] != "stripe" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		id := r.body["payment_id"].(string)
		if g := e.do("GET", "/v1/payments/"+id, "dmv", nil); errorOf(g) != "404 P0200 " {
			t.Fatalf("a test key read a live payment: %s", g.raw)
		}
		if g := e.do("GET", "/v1/payments/"+id, "dmv-live", nil); g.status != 200 {
			t.Fatalf("%s", g.raw)
		}
		// A test key's payment with an http return URL is fine (the demo).
		if r := e.do("POST", "/v1/payments", "dmv", with(func(m map[string]any) { m["return_url"] = "http://localhost:9000/done" })); r.status != 201 {
			t.Fatalf("%s", r.raw)
		}
	})
}

// TestIdempotencyKey: the same key and body within 24 hours is the same
// payment (200); a different body is 409 P0191; after 24 hours the key is
// new again; keys are per API key; racing requests make one payment.
func TestIdempotencyKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		first := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "order-42")
		if first.status != 201 {
			t.Fatalf("%s", first.raw)
		}
		id := first.body["payment_id"]
		again := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "order-42")
		if again.status != 200 || again.body["payment_id"] != id || again.header.Get("Location") != first.header.Get("Location") {
			t.Fatalf("repeat: %d %s", again.status, again.raw)
		}
		// The same body spelled differently is the same body.
		respelled := `{ "return_url":"https://dmv.example.gov/done", "metadata": {"urgent": true, "instalment": 2.0, "case": "c1"},
			"description": "Vehicle registration renewal", "reference":"DMV-2026-000123", "email": "ana@example.com", "amount": 4500 }`
		if r := e.do("POST", "/v1/payments", "dmv", respelled, "Idempotency-Key", "order-42"); r.status != 200 || r.body["payment_id"] != id {
			t.Fatalf("respelled: %d %s", r.status, r.raw)
		}
		diff := e.do("POST", "/v1/payments", "dmv", with(func(m map[string]any) { m["amount"] = 4501 }), "Idempotency-Key", "order-42")
		if errorOf(diff) != "409 P0191 " || !strings.Contains(diff.raw, "Idempotency-Key") {
			t.Fatalf("different body: %s", diff.raw)
		}
		// Another key of the same agency has its own Idempotency-Keys.
		if r := e.do("POST", "/v1/payments", "dmv-2", good(), "Idempotency-Key", "order-42"); r.status != 201 || r.body["payment_id"] == id {
			t.Fatalf("other key: %d %s", r.status, r.raw)
		}
		e.clock.Advance(24*time.Hour - time.Second)
		if r := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "order-42"); r.status != 200 {
			t.Fatalf("within 24 h: %d %s", r.status, r.raw)
		}
		e.clock.Advance(time.Second)
		late := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "order-42")
		if late.status != 201 || late.body["payment_id"] == id {
			t.Fatalf("after 24 h: %d %s", late.status, late.raw)
		}
		// Racing first requests: one payment, every answer names it.
		const n = 8
		var wg sync.WaitGroup
		answers := make([]resp, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "race-1")
			}()
		}
		wg.Wait()
		created := 0
		for _, a := range answers {
			switch a.status {
			case 201:
				created++
			case 200:
			default:
				t.Fatalf("race: %d %s", a.status, a.raw)
			}
			if a.body["payment_id"] != answers[0].body["payment_id"] {
				t.Fatalf("race made two payments: %v and %v", a.body["payment_id"], answers[0].body["payment_id"])
			}
		}
		if created != 1 {
			t.Fatalf("race: %d answers said created", created)
		}
	})
}

// TestRateLimit: 15 creates a second per key (here 3), then 429 P0900;
// the next second has room again, and other keys are not affected.
func TestRateLimit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: 3})
		for i := range 3 {
			if r := e.do("POST", "/v1/payments", "dmv", good()); r.status != 201 {
				t.Fatalf("create %d: %s", i, r.raw)
			}
		}
		if r := e.do("POST", "/v1/payments", "dmv", good()); errorOf(r) != "429 P0900 " {
			t.Fatalf("over the limit: %s", r.raw)
		}
		if r := e.do("POST", "/v1/payments", "dmv-2", good()); r.status != 201 {
			t.Fatalf("another key: %s", r.raw)
		}
		if r := e.do("GET", "/v1/payments", "dmv", nil); r.status != 200 {
			t.Fatalf("reads are not limited: %s", r.raw)
		}
		e.clock.Advance(time.Second)
		if r := e.do("POST", "/v1/payments", "dmv", good()); r.status != 201 {
			t.Fatalf("a second later: %s", r.raw)
		}
	})
}

// TestStates: a payment in every state GOV.UK Pay has, as get and events
// give it: status, finished, code and message; which links it carries;
// its refund summary.
func TestStates(t *testing.T) {
	type outcome = payment.Outcome
	tests := []struct {
		name     string
		delayed  bool
		outcomes []outcome // after the checkout is begun; nil = not begun
		begin    bool
		state    string // JSON of state
		links    string // the links besides self, events, refunds
		refunds  string
		history  []string
	}{
		{"created", false, nil, false, `{"status":"created","finished":false}`, "cancel next_url next_url_post", "pending", []string{"created"}},
		{"started", false, []outcome{}, true, `{"status":"started","finished":false}`, "cancel", "pending", []string{"created", "started"}},
		{"submitted", false, []outcome{{Status: payment.Submitted}}, true, `{"status":"submitted","finished":false}`, "", "pending", []string{"created", "started", "submitted"}},
		{"capturable", true, []outcome{{Status: payment.Capturable}}, true, `{"status":"capturable","finished":false}`, "cancel capture", "pending", []string{"created", "started", "submitted", "capturable"}},
		{"success", false, []outcome{{Status: payment.Success}}, true, `{"status":"success","finished":true}`, "", "available", []string{"created", "started", "submitted", "success"}},
		{"declined", false, []outcome{{Status: payment.Failed, Code: payment.CodeRejected}}, true, `{"status":"failed","finished":true,"code":"P0010","message":"Payment method rejected"}`, "", "unavailable", []string{"created", "started", "failed"}},
		{"expired", false, []outcome{{Status: payment.Failed, Code: payment.CodeExpired}}, true, `{"status":"failed","finished":true,"code":"P0020","message":"Payment expired"}`, "", "unavailable", []string{"created", "started", "failed"}},
		{"cancelled by the payer", false, []outcome{{Status: payment.Failed, Code: payment.CodeCancelledByUser}}, true, `{"status":"failed","finished":true,"code":"P0030","message":"Payment was cancelled by the user"}`, "", "unavailable", []string{"created", "started", "failed"}},
		{"cancelled by the service", false, []outcome{{Status: payment.Cancelled, Code: payment.CodeCancelledBySystem}}, true, `{"status":"cancelled","finished":true,"code":"P0040","message":"Payment was cancelled by the service"}`, "", "unavailable", []string{"created", "started", "cancelled"}},
		{"provider error", false, []outcome{{Status: payment.Error, Code: payment.CodeProviderError}}, true, `{"status":"error","finished":true,"code":"P0050","message":"Payment provider returned an error"}`, "", "unavailable", []string{"created", "started", "error"}},
	}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id, checkout := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = tt.delayed }))
				if tt.begin {
					e.settle(checkout, tt.outcomes...)
				}
				r := e.do("GET", "/v1/payments/"+id, "dmv", nil)
				if r.status != 200 {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				st, _ := json.Marshal(r.body["state"])
				var want map[string]any
				_ = json.Unmarshal([]byte(tt.state), &want)
				if w, _ := json.Marshal(want); string(st) != string(w) {
					t.Errorf("state %s, want %s", st, tt.state)
				}
				var links []string
				for k := range r.body["_links"].(map[string]any) {
					if k != "self" && k != "events" && k != "refunds" {
						links = append(links, k)
					}
				}
				if got := strings.Join(sorted(links), " "); got != tt.links {
					t.Errorf("links %q, want %q", got, tt.links)
				}
				if rs := r.body["refund_summary"].(map[string]any)["status"]; rs != tt.refunds {
					t.Errorf("refund_summary.status %v, want %s", rs, tt.refunds)
				}
				ev := e.do("GET", "/v1/payments/"+id+"/events", "dmv", nil)
				if ev.status != 200 || ev.body["payment_id"] != id {
					t.Fatalf("events %d %s", ev.status, ev.raw)
				}
				var got []string
				for _, x := range ev.body["events"].([]any) {
					m := x.(map[string]any)
					got = append(got, m["state"].(map[string]any)["status"].(string))
					if !payDate.MatchString(m["updated"].(string)) || m["_links"].(map[string]any)["payment_url"].(map[string]any)["href"] != publicURL+"/v1/payments/"+id {
						t.Errorf("event %v", m)
					}
				}
				if strings.Join(got, ",") != strings.Join(tt.history, ",") {
					t.Errorf("events %v, want %v", got, tt.history)
				}
			})
		}
	})
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestNotFound: another agency's payment, an unknown id, on every route,
// is 404 with the route's code; nothing of it is shown.
func TestNotFound(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		id, _ := e.create("dmv", good())
		for _, target := range []string{id, "nosuchpayment"} {
			for _, c := range []struct {
				method, path string
				body         any
				want         string
			}{
				{"GET", "/v1/payments/%s", nil, "404 P0200 "},
				{"GET", "/v1/payments/%s/events", nil, "404 P0300 "},
				{"POST", "/v1/payments/%s/cancel", nil, "404 P0500 "},
				{"POST", "/v1/payments/%s/capture", nil, "404 P1000 "},
				{"POST", "/v1/payments/%s/refunds", map[string]any{"amount": 1}, "404 P0600 "},
				{"GET", "/v1/payments/%s/refunds", nil, "404 P0800 "},
				{"GET", "/v1/payments/%s/refunds/x", nil, "404 P0700 "},
			} {
				r := e.do(c.method, fmt.Sprintf(c.path, target), "clerk", c.body)
				if got := errorOf(r); got != c.want || strings.Contains(r.raw, "DMV-2026") {
					t.Errorf("%s %s: %s, want %s", c.method, c.path, r.raw, c.want)
				}
			}
		}
		// Unauthenticated, every route is 401 before anything is looked up.
		for _, path := range []string{"/v1/payments", "/v1/payments/" + id, "/v1/payments/" + id + "/events", "/v1/payments/" + id + "/refunds"} {
			if r := e.do("GET", path, "", nil); r.status != 401 {
				t.Errorf("GET %s without a key: %d", path, r.status)
			}
		}
	})
}

// TestCancelAndCapture: cancel is 204 while the payment may be cancelled,
// 400 P0501 once finished, 409 P0502 while the provider decides; capture
// is 204 for a capturable payment and 400 P1003 otherwise.
func TestCancelAndCapture(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		state := func(id string) string {
			r := e.do("GET", "/v1/payments/"+id, "dmv", nil)
			st := r.body["state"].(map[string]any)
			code, _ := st["code"].(string)
			return st["status"].(string) + " " + code
		}
		// Created: cancelled without asking the provider (nothing begun).
		a, _ := e.create("dmv", good())
		if r := e.do("POST", "/v1/payments/"+a+"/cancel", "dmv", nil); r.status != 204 || r.raw != "" {
			t.Fatalf("cancel created: %d %s", r.status, r.raw)
		}
		if s := state(a); s != "cancelled P0040" {
			t.Fatalf("after cancel: %s", s)
		}
		if r := e.do("POST", "/v1/payments/"+a+"/cancel", "dmv", nil); errorOf(r) != "400 P0501 " {
			t.Fatalf("cancel twice: %s", r.raw)
		}
		// Started: the provider is told.
		b, cb := e.create("dmv", good())
		e.settle(cb)
		if r := e.do("POST", "/v1/payments/"+b+"/cancel", "dmv", nil); r.status != 204 {
			t.Fatalf("cancel started: %d %s", r.status, r.raw)
		}
		if len(e.sandbox.cancelled) != 1 || e.sandbox.cancelled[0] != "ch_"+cb {
			t.Fatalf("provider told %v", e.sandbox.cancelled)
		}
		ck, _ := e.svc.Checkout(context.Background(), cb)
		if ck.State.Status != payment.Cancelled {
			t.Fatalf("checkout %+v", ck.State)
		}
		// Submitted: the provider is deciding.
		c, cc := e.create("dmv", good())
		e.settle(cc, payment.Outcome{Status: payment.Submitted})
		if r := e.do("POST", "/v1/payments/"+c+"/cancel", "dmv", nil); errorOf(r) != "409 P0502 " {
			t.Fatalf("cancel submitted: %s", r.raw)
		}
		if r := e.do("POST", "/v1/payments/"+c+"/capture", "dmv", nil); errorOf(r) != "400 P1003 " {
			t.Fatalf("capture submitted: %s", r.raw)
		}
		// Delayed capture: capturable, captured, success (and in the books).
		d, cd := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = true }))
		e.settle(cd, payment.Outcome{Status: payment.Capturable})
		if r := e.do("POST", "/v1/payments/"+d+"/capture", "dmv", nil); r.status != 204 {
			t.Fatalf("capture: %d %s", r.status, r.raw)
		}
		if s := state(d); s != "success " || len(e.sandbox.captured) != 1 {
			t.Fatalf("after capture: %s, captured %v", s, e.sandbox.captured)
		}
		if r := e.do("POST", "/v1/payments/"+d+"/capture", "dmv", nil); errorOf(r) != "400 P1003 " {
			t.Fatalf("capture twice: %s", r.raw)
		}
		if r := e.do("POST", "/v1/payments/"+d+"/cancel", "dmv", nil); errorOf(r) != "400 P0501 " {
			t.Fatalf("cancel success: %s", r.raw)
		}
		// Capturable may also be cancelled.
		f, cf := e.create("dmv", with(func(m map[string]any) { m["delayed_capture"] = true }))
		e.settle(cf, payment.Outcome{Status: payment.Capturable})
		if r := e.do("POST", "/v1/payments/"+f+"/cancel", "dmv", nil); r.status != 204 || state(f) != "cancelled P0040" {
			t.Fatalf("cancel capturable: %d %s", r.status, r.raw)
		}
		if rep, err := payment.Check(context.Background(), db); err != nil || !rep.OK() || rep.Payments != 1 {
			t.Fatalf("ledger %+v %v", rep, err)
		}
	})
}

// TestRefunds: refunds through the API: 202 submitted, Pay's refusals,
// the list and one refund, and refund_summary as it changes.
func TestRefunds(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newEnv(t, db, envOpts{rateLimit: -1})
		id, co := e.create("dmv", with(func(m map[string]any) { m["amount"] = 1000 }))
		unpaid, _ := e.create("dmv", good())
		if r := e.do("POST", "/v1/payments/"+unpaid+"/refunds", "dmv", map[string]any{"amount": 100}); errorOf(r) != "400 P0603 " || !strings.Contains(r.raw, "pending") {
			t.Fatalf("unpaid: %s", r.raw)
		}
		e.settle(co, payment.Outcome{Status: payment.Success})
		path := "/v1/payments/" + id + "/refunds"
		for _, c := range []struct {
			name string
			body any
			hdr  []string
			want string
		}{
			{"no amount", map[string]any{"refund_amount_available": 1000}, nil, "400 P0601 amount"},
			{"amount a string", map[string]any{"amount": "100"}, nil, "400 P0602 amount"},
			{"amount zero", map[string]any{"amount": 0}, nil, "422 P0602 amount"},
			{"available a string", map[string]any{"amount": 100, "refund_amount_available": "x"}, nil, "400 P0602 refund_amount_available"},
			{"not JSON", "{", nil, "400 P0197 "},
			{"no content type", map[string]any{"amount": 100}, []string{"Content-Type", ""}, "400 P0920 "},
			{"available mismatch", map[string]any{"amount": 100, "refund_amount_available": 999}, nil, "412 P0604 "},
			{"more than paid", map[string]any{"amount": 1001, "refund_amount_available": 1000}, nil, "400 P0603 "},
		} {
			if r := e.do("POST", path, "dmv", c.body, c.hdr...); errorOf(r) != c.want {
				t.Errorf("%s: %s, want %s", c.name, r.raw, c.want)
			}
		}
		r := e.do("POST", path, "dmv", map[string]any{"amount": 400, "refund_amount_available": 1000})
		if r.status != 202 || r.body["status"] != "submitted" || r.body["amount"] != 400.0 || !payDate.MatchString(r.body["created_date"].(string)) {
			t.Fatalf("refund: %d %s", r.status, r.raw)
		}
		rid := r.body["refund_id"].(string)
		links := r.body["_links"].(map[string]any)
		if links["self"].(map[string]any)["href"] != publicURL+path+"/"+rid || links["payment"].(map[string]any)["href"] != publicURL+"/v1/payments/"+id {
			t.Fatalf("links %v", links)
		}
		sum := e.do("GET", "/v1/payments/"+id, "dmv", nil).body["refund_summary"]
		if b, _ := json.Marshal(sum); string(b) != `{"amount_available":600,"amount_submitted":400,"status":"available"}` {
			t.Fatalf("summary %s", b)
		}
		if _, err := e.svc.CompleteRefund(ctx, rid); err != nil {
			t.Fatal(err)
		}
		if g := e.do("GET", path+"/"+rid, "dmv", nil); g.status != 200 || g.body["status"] != "success" || g.body["refund_id"] != rid {
			t.Fatalf("get refund %s", g.raw)
		}
		if g := e.do("GET", path+"/nope", "dmv", nil); errorOf(g) != "404 P0700 " {
			t.Fatalf("unknown refund %s", g.raw)
		}
		// Without refund_amount_available: the rest, then nothing is left.
		e.clock.Advance(time.Second)
		if r := e.do("POST", path, "dmv", map[string]any{"amount": 600}); r.status != 202 {
			t.Fatalf("the rest: %s", r.raw)
		}
		if r := e.do("POST", path, "dmv", map[string]any{"amount": 1}); errorOf(r) != "400 P0603 " || !strings.Contains(r.raw, "full") {
			t.Fatalf("nothing left: %s", r.raw)
		}
		list := e.do("GET", path, "dmv", nil)
		refunds := list.body["_embedded"].(map[string]any)["refunds"].([]any)
		if list.status != 200 || list.body["payment_id"] != id || len(refunds) != 2 || refunds[0].(map[string]any)["refund_id"] != rid {
			t.Fatalf("list %s", list.raw)
		}
		if s := e.do("GET", "/v1/payments/"+id, "dmv", nil).body["refund_summary"].(map[string]any)["status"]; s != "full" {
			t.Fatalf("summary status %v", s)
		}
	})
}

// TestSearch: filters, pages and links as Pay's search gives them; only
// the key's agency and mode; Pay's refusals.
func TestSearch(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1, live: true})
		var ids []string
		for i := range 5 {
			id, co := e.create("dmv", with(func(m map[string]any) {
				m["reference"] = fmt.Sprintf("REF-%d", i%2)
				m["email"] = fmt.Sprintf("p%d@example.com", i)
			}))
			if i == 4 {
				e.settle(co, payment.Outcome{Status: payment.Success})
			}
			ids = append(ids, id)
			e.clock.Advance(time.Minute)
		}
		e.create("clerk", good())    // another agency's
		e.create("dmv-live", good()) // the live mode's
		search := func(q string) resp { return e.do("GET", "/v1/payments?"+q, "dmv", nil) }
		idsOf := func(r resp) string {
			var out []string
			for _, x := range r.body["results"].([]any) {
				out = append(out, x.(map[string]any)["payment_id"].(string))
			}
			return strings.Join(out, ",")
		}
		all := search("")
		if all.status != 200 || all.body["total"] != 5.0 || all.body["count"] != 5.0 || all.body["page"] != 1.0 ||
			idsOf(all) != strings.Join([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}, ",") {
			t.Fatalf("all: %s", all.raw)
		}
		for _, c := range []struct {
			q    string
			want []string
		}{
			{"reference=REF-1", []string{ids[3], ids[1]}},
			{"email=p2%40example.com", []string{ids[2]}},
			{"state=success", []string{ids[4]}},
			{"state=created&reference=REF-0", []string{ids[2], ids[0]}},
			{"from_date=" + url.QueryEscape(start.Add(time.Minute).Format(time.RFC3339)) + "&to_date=" + url.QueryEscape(start.Add(3*time.Minute).Format(time.RFC3339)), []string{ids[2], ids[1]}},
			{"reference=nobody", nil},
		} {
			if r := search(c.q); r.status != 200 || idsOf(r) != strings.Join(c.want, ",") {
				t.Errorf("%s: %s", c.q, r.raw)
			}
		}
		p2 := search("display_size=2&page=2")
		if idsOf(p2) != ids[2]+","+ids[1] || p2.body["total"] != 5.0 || p2.body["count"] != 2.0 {
			t.Fatalf("page 2: %s", p2.raw)
		}
		links := p2.body["_links"].(map[string]any)
		for name, page := range map[string]string{"self": "2", "first_page": "1", "last_page": "3", "prev_page": "1", "next_page": "3"} {
			l, _ := links[name].(map[string]any)
			href, _ := l["href"].(string)
			u, err := url.Parse(href)
			if err != nil || !strings.HasPrefix(href, publicURL+"/v1/payments?") || u.Query().Get("page") != page || u.Query().Get("display_size") != "2" {
				t.Errorf("%s: %q", name, href)
			}
		}
		if _, ok := search("").body["_links"].(map[string]any)["next_page"]; ok {
			t.Error("a single page has a next page")
		}
		for _, c := range []struct{ q, want, field string }{
			{"page=4&display_size=2", "404 P0402 ", ""},
			{"display_size=501", "422 P0401 ", "display_size"},
			{"display_size=0", "422 P0401 ", "display_size"},
			{"page=0", "422 P0401 ", "page"},
			{"state=paid", "422 P0401 ", "state"},
			{"from_date=yesterday&page=x", "422 P0401 ", "from_date, page"},
		} {
			r := search(c.q)
			if errorOf(r) != c.want || !strings.Contains(r.body["description"].(string), c.field) {
				t.Errorf("%s: %s", c.q, r.raw)
			}
		}
		if r := e.do("GET", "/v1/payments", "dmv-live", nil); r.body["total"] != 1.0 {
			t.Errorf("live search: %s", r.raw)
		}
	})
}

// TestKeys: keys are stored as hashes only, listed without secrets and
// refused once revoked.
func TestKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{})
		ctx := context.Background()
		list, err := e.keys.List(ctx, "dmv")
		if err != nil || len(list) != 4 {
			t.Fatalf("%+v %v", list, err)
		}
		rows, err := db.Read().Query(`SELECT secret_hash, hint FROM payment_api_keys`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var h, hint string
			if err := rows.Scan(&h, &hint); err != nil {
				t.Fatal(err)
			}
			for _, k := range e.key {
				if strings.Contains(h, k) || strings.Contains(k, strings.TrimSuffix(hint, "…")) && len(hint) > len(k)/2 {
					t.Fatalf("a key is stored: %s", h)
				}
			}
		}
		if !strings.HasPrefix(e.key["dmv"], "api_test_") || !strings.HasPrefix(e.key["dmv-live"], "api_live_") {
			t.Fatalf("prefixes %q %q", e.key["dmv"], e.key["dmv-live"])
		}
		if r := e.do("GET", "/v1/payments", "dmv", nil); r.status != 200 {
			t.Fatal(r.raw)
		}
		for _, k := range list {
			if k.Name == "dmv" {
				if err := e.keys.Revoke(ctx, platformOperator, "adams-clerk", k.ID); err == nil {
					t.Fatal("another agency revoked the key")
				}
				if err := e.keys.Revoke(ctx, platformOperator, "dmv", k.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r := e.do("GET", "/v1/payments", "dmv", nil); r.status != 401 {
			t.Fatalf("revoked key: %d", r.status)
		}
	})
}

// TestPurgeIdempotency: records older than 24 hours are deleted; newer
// ones still answer.
func TestPurgeIdempotency(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db, envOpts{rateLimit: -1})
		if r := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "old"); r.status != 201 {
			t.Fatal(r.raw)
		}
		e.clock.Advance(23 * time.Hour)
		fresh := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "fresh")
		e.clock.Advance(time.Hour)
		n, err := e.keys.PurgeIdempotency(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v", n, err)
		}
		if r := e.do("POST", "/v1/payments", "dmv", good(), "Idempotency-Key", "fresh"); r.status != 200 || r.body["payment_id"] != fresh.body["payment_id"] {
			t.Fatalf("fresh key after purge: %d %s", r.status, r.raw)
		}
		var left int
		if err := db.Read().QueryRow(`SELECT COUNT(*) FROM payment_idempotency`).Scan(&left); err != nil || left != 1 {
			t.Fatalf("%d left, %v", left, err)
		}
	})
}
