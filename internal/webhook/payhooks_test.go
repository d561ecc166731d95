package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/payresource"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/webhook"
)

// payReceiver is an agency system's webhook endpoint on loopback: it
// verifies Pay-Signature over the raw body the way an agency would
// (crypto/hmac, constant-time compare) and records each message;
// answer(n) gives the status of the nth request.
type payReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []webhook.PayMessage
	bad    int // requests whose signature did not verify
	answer func(n int) int
}

func newPayReceiver(t *testing.T) *payReceiver {
	r := &payReceiver{answer: func(int) int { return http.StatusOK }}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		m := hmac.New(sha256.New, []byte(r.secret))
		m.Write(body)
		want := hex.EncodeToString(m.Sum(nil))
		got := req.Header.Get("Pay-Signature")
		if !hmac.Equal([]byte(got), []byte(want)) || req.Header.Get("Content-Type") != "application/json" {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var msg webhook.PayMessage
		if err := json.Unmarshal(body, &msg); err != nil {
			r.bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.got = append(r.got, msg)
		w.WriteHeader(r.answer(len(r.got)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *payReceiver) messages() ([]webhook.PayMessage, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.PayMessage(nil), r.got...), r.bad
}

type payRig struct {
	db       *storage.DB
	bus      *events.Bus
	payments *payment.Service
	hooks    *webhook.PayHooks
	client   *jobs.Client
	disp     *events.Dispatcher
}

var operatorActor = platform.Actor{Kind: platform.ActorOperator, ID: "cli"}

// rigPublicURL is Portico's public address in the rig: the resource's
// links start with it, as the API's do.
const rigPublicURL = "https://portico.example.gov"

// newPayRig builds payment webhooks over a real payment block, River and
// the event dispatcher, with a retry schedule of the given waits.
func newPayRig(t *testing.T, db *storage.DB, clock platform.Clock, schedule []time.Duration, start bool) *payRig {
	t.Helper()
	log := audit.New(db, clock, nil)
	box, err := secrets.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	r := &payRig{db: db, bus: events.NewBus(clock)}
	if r.payments, err = payment.NewService(db, log, r.bus, clock); err != nil {
		t.Fatal(err)
	}
	jcfg := jobs.Config{Work: true, FetchPollInterval: 100 * time.Millisecond}
	ins, err := jobs.NewInserter(db, jcfg)
	if err != nil {
		t.Fatal(err)
	}
	jreg := jobs.NewRegistry()
	if r.hooks, err = webhook.NewPayHooks(db, log, clock, box, r.payments, r.bus, ins, jreg, webhook.PayConfig{
		Config: webhook.Config{Timeout: 2 * time.Second}, Schedule: schedule, PublicURL: func() string { return rigPublicURL }}); err != nil {
		t.Fatal(err)
	}
	if !start {
		return r
	}
	if r.client, err = jobs.New(db, jreg, jcfg); err != nil {
		t.Fatal(err)
	}
	if r.disp, err = events.NewDispatcher(db, r.bus, events.DispatchConfig{Poll: 20 * time.Millisecond, Lease: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.disp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.disp.Stop(sctx)
		_ = r.client.Stop(sctx)
	})
	return r
}

// pay creates a payment of agency and walks it to success (its events:
// created, started, succeeded, captured).
func (r *payRig) pay(t *testing.T, agency string) payment.Payment {
	t.Helper()
	ctx := context.Background()
	var p payment.Payment
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = r.payments.Create(ctx, tx, operatorActor, payment.New{Agency: agency, Amount: 61250, Reference: "01-234-567",
			Description: "Property tax", ReturnURL: "https://treasurer.example.gov/done", Provider: "sandbox"}); err != nil {
			return err
		}
		for _, s := range [][2]payment.Status{{payment.Created, payment.Started}, {payment.Started, payment.Submitted}, {payment.Submitted, payment.Success}} {
			if p, err = r.payments.Move(ctx, tx, operatorActor, p.ID, s[0], s[1], ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func countWhere(t *testing.T, db *storage.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPayWebhookDelivery: a payment that succeeds reaches the agency's
// receiver as a signed Pay message; a 500 is retried with the same
// message id and body until a 2xx; a receiver that always fails gets
// every scheduled attempt and the message is dead (audited); another
// agency's subscription hears nothing.
func TestPayWebhookDelivery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		short := []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}
		r := newPayRig(t, db, platform.SystemClock{}, short, true)
		flaky, down, other := newPayReceiver(t), newPayReceiver(t), newPayReceiver(t)
		flaky.answer = func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusNoContent
		}
		down.answer = func(int) int { return http.StatusInternalServerError }
		for _, s := range []struct {
			recv   *payReceiver
			agency string
			events []string
		}{{flaky, "adams-treasurer", []string{webhook.PaySucceeded}}, {down, "adams-treasurer", nil}, {other, "dmv", nil}} {
			w, err := r.hooks.Create(ctx, operatorActor, s.agency, s.recv.srv.URL+"/pay", s.events)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(w.SigningSecret, "paywh_") || len(w.SigningSecret) != 6+64 {
				t.Fatalf("secret %q", w.SigningSecret)
			}
			s.recv.secret = w.SigningSecret
		}
		p := r.pay(t, "adams-treasurer")

		wait(t, "the flaky receiver's third answer", func() bool { got, _ := flaky.messages(); return len(got) >= 3 })
		// The receiver that is down asked for everything: started,
		// succeeded and captured each die after their attempts.
		wait(t, "the dead letters", func() bool {
			return countWhere(t, db, `SELECT COUNT(*) FROM pay_webhook_deliveries WHERE status = 'dead'`) == 3
		})
		got, bad := flaky.messages()
		if bad != 0 || len(got) != 3 {
			t.Fatalf("flaky receiver: %d messages, %d unverified", len(got), bad)
		}
		first := got[0]
		if first.EventType != webhook.PaySucceeded || first.ResourceID != p.ID || first.APIVersion != 1 || first.ResourceType != "payment" ||
			first.Resource.PaymentID != p.ID || first.Resource.Amount != 61250 || first.Resource.State.Status != payment.Success || !first.Resource.State.Finished ||
			first.Resource.Reference != "01-234-567" || first.WebhookMessageID == "" || !strings.HasSuffix(first.CreatedDate, "Z") {
			t.Errorf("message: %+v", first)
		}
		// The resource is the payment exactly as GET /v1/payments/{id}
		// answers it (one builder, payresource.Resource).
		api, err := payresource.Describe(ctx, r.payments, rigPublicURL, "adams-treasurer", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(first.Resource)
		apiJSON, _ := json.Marshal(api)
		if string(gotJSON) != string(apiJSON) || api.Links["self"].Href != rigPublicURL+"/v1/payments/"+p.ID {
			t.Errorf("webhook resource\n%s\nis not the API's\n%s", gotJSON, apiJSON)
		}
		for _, m := range got[1:] {
			if m.WebhookMessageID != first.WebhookMessageID || m.CreatedDate != first.CreatedDate {
				t.Errorf("a retry changed the message: %+v vs %+v", m, first)
			}
		}
		if n := countWhere(t, db, `SELECT COUNT(*) FROM pay_webhook_deliveries WHERE status = 'delivered' AND attempts = 3 AND last_status = 204`); n != 1 {
			t.Errorf("%d delivered after 3 attempts", n)
		}
		// Six attempts of each message (the first and five retries), then
		// dead and audited.
		downGot, _ := down.messages()
		if len(downGot) != 18 || countWhere(t, db, `SELECT COUNT(*) FROM pay_webhook_deliveries WHERE status = 'dead' AND attempts = 6 AND last_status = 500`) != 3 {
			t.Errorf("the receiver that is down got %d attempts", len(downGot))
		}
		if n := countWhere(t, db, `SELECT COUNT(*) FROM audit_entries WHERE action = 'payment.webhook.dead'`); n != 3 {
			t.Errorf("%d dead-letter audit entries", n)
		}
		// The down receiver asked for everything, but "created" sends
		// nothing.
		sent := map[string]int{}
		for _, m := range downGot {
			sent[m.EventType]++
		}
		if len(sent) != 3 || sent[webhook.PayStarted] != 6 || sent[webhook.PaySucceeded] != 6 || sent[webhook.PayCaptured] != 6 {
			t.Errorf("sent %v", sent)
		}
		if got, _ := other.messages(); len(got) != 0 {
			t.Errorf("another agency's webhook heard %d messages", len(got))
		}
	})
}

// TestPayRetrySchedule: the wait after each failed attempt is GOV.UK
// Pay's 60 s, 5 min, 1 h, 1 day, 2 days, read on the block's clock, and a
// message's job is inserted with one attempt more than the schedule has
// waits.
func TestPayRetrySchedule(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := time.Date(2027, 3, 31, 9, 0, 0, 0, time.UTC)
		clock := platform.NewFakeClock(now)
		r := newPayRig(t, db, clock, nil, false)
		for attempt, want := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 24 * time.Hour, 48 * time.Hour} {
			if got := r.hooks.RetryAt(attempt + 1); !got.Equal(now.Add(want)) {
				t.Errorf("after attempt %d: retry at %s; want %s later", attempt+1, got, want)
			}
		}
		clock.Advance(time.Hour)
		if got := r.hooks.RetryAt(1); !got.Equal(now.Add(time.Hour + time.Minute)) {
			t.Errorf("the schedule does not follow the clock: %s", got)
		}
		ctx := context.Background()
		if _, err := r.hooks.Create(ctx, operatorActor, "adams-treasurer", "https://treasurer.example.gov/pay", nil); err != nil {
			t.Fatal(err)
		}
		r.pay(t, "adams-treasurer")
		fanOutAll(t, r)
		// One job per message (started, succeeded, captured), each with
		// 6 attempts.
		if n := countWhere(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'webhook.pay_deliver' AND max_attempts = 6`); n != 3 {
			t.Errorf("%d delivery jobs with 6 attempts", n)
		}
		if n := countWhere(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'webhook.pay_deliver'`); n != 3 {
			t.Errorf("%d delivery jobs", n)
		}
	})
}

// fanOutAll hands every payment event in the log to the consumer's
// handler, as the dispatcher would.
func fanOutAll(t *testing.T, r *payRig) []events.Event {
	t.Helper()
	ctx := context.Background()
	if _, err := events.Sequence(ctx, r.db, 0); err != nil {
		t.Fatal(err)
	}
	evs, err := events.ReadAgency(ctx, r.db, "adams-treasurer", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := r.hooks.FanOut(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

// TestPayFanOutIdempotent: the same event handled twice (a consumer that
// crashed before its cursor moved) makes one message, with one id.
func TestPayFanOutIdempotent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newPayRig(t, db, platform.SystemClock{}, nil, false)
		ctx := context.Background()
		if _, err := r.hooks.Create(ctx, operatorActor, "adams-treasurer", "https://treasurer.example.gov/pay", nil); err != nil {
			t.Fatal(err)
		}
		r.pay(t, "adams-treasurer")
		evs := fanOutAll(t, r)
		fanOutAll(t, r)
		if len(evs) != 4 {
			t.Fatalf("%d payment events; want created, started, succeeded and captured", len(evs))
		}
		// created sends nothing; the three others one message each.
		if n := countWhere(t, db, `SELECT COUNT(DISTINCT id) FROM pay_webhook_deliveries`); n != 3 {
			t.Errorf("%d messages for three events handled twice", n)
		}
		if n := countWhere(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'webhook.pay_deliver'`); n != 3 {
			t.Errorf("%d delivery jobs", n)
		}
	})
}

// TestPayWebhookAdmin: who manages an agency's webhooks, and what a bad
// request is told.
func TestPayWebhookAdmin(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newPayRig(t, db, platform.SystemClock{}, nil, false)
		ctx := context.Background()
		admin := platform.Actor{Kind: platform.ActorStaff, ID: "s1", Grants: []platform.Grant{{Agency: "adams-treasurer", Role: "agency_admin"}}}
		for _, tc := range []struct {
			name   string
			actor  platform.Actor
			agency string
			url    string
			events []string
			code   platform.Code
		}{
			{"operator", operatorActor, "adams-treasurer", "https://t.example.gov/pay", nil, ""},
			{"the agency's administrator", admin, "adams-treasurer", "http://127.0.0.1:9/pay", []string{"card_payment_failed"}, ""},
			{"another agency's administrator", admin, "dmv", "https://t.example.gov/pay", nil, platform.CodeForbidden},
			{"a citizen", platform.Actor{Kind: platform.ActorCitizen, ID: "c1"}, "adams-treasurer", "https://t.example.gov/pay", nil, platform.CodeForbidden},
			{"nobody", platform.Actor{}, "adams-treasurer", "https://t.example.gov/pay", nil, platform.CodeUnauthorized},
			{"plain http elsewhere", operatorActor, "adams-treasurer", "http://t.example.gov/pay", nil, platform.CodeInvalid},
			{"not a URL", operatorActor, "adams-treasurer", "treasurer", nil, platform.CodeInvalid},
			{"an unknown event", operatorActor, "adams-treasurer", "https://t.example.gov/pay", []string{"card_payment_created"}, platform.CodeInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.hooks.Create(ctx, tc.actor, tc.agency, tc.url, tc.events)
				if platform.ErrorCode(err) != tc.code {
					t.Fatalf("err = %v; want %q", err, tc.code)
				}
			})
		}
		list, err := r.hooks.List(ctx, admin, "adams-treasurer")
		if err != nil || len(list) != 2 || list[0].SigningSecret != "" || len(list[0].Events) != len(webhook.PayEventTypes) {
			t.Fatalf("list: %+v %v", list, err)
		}
		if err := r.hooks.Delete(ctx, admin, "dmv", list[0].ID); platform.ErrorCode(err) != platform.CodeForbidden {
			t.Errorf("delete through another agency: %v", err)
		}
		if err := r.hooks.Delete(ctx, operatorActor, "dmv", list[0].ID); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("delete of another agency's webhook: %v", err)
		}
		if err := r.hooks.Delete(ctx, admin, "adams-treasurer", list[0].ID); err != nil {
			t.Fatal(err)
		}
		if list, _ = r.hooks.List(ctx, operatorActor, "adams-treasurer"); len(list) != 1 {
			t.Errorf("after delete: %+v", list)
		}
		if n := countWhere(t, db, `SELECT COUNT(*) FROM audit_entries WHERE action IN ('payment.webhook.create', 'payment.webhook.delete')`); n != 3 {
			t.Errorf("%d audit entries for 2 creations and a deletion", n)
		}
	})
}

func TestPayEventType(t *testing.T) {
	for _, tc := range []struct{ typ, data, want string }{
		{payment.EventCreated, `{"status":"created"}`, ""},
		{payment.EventSucceeded, `{"status":"success"}`, webhook.PaySucceeded},
		{payment.EventFailed, `{"status":"failed","code":"P0010"}`, webhook.PayFailed},
		{payment.EventFailed, `{"status":"failed","code":"P0020"}`, webhook.PayExpired},
		{payment.EventFailed, `{"status":"error","code":"P0050"}`, webhook.PayFailed},
		{payment.EventFailed, `{"status":"cancelled","code":"P0040"}`, ""},
		{"gov.portico.payment.refunded", `{}`, webhook.PayRefunded},
		{"gov.portico.payment.started", `{}`, webhook.PayStarted},
		{"gov.portico.payment.captured", `{}`, webhook.PayCaptured},
		{"gov.portico.case.opened", `{}`, ""},
	} {
		if got := webhook.PayEventType(events.Event{Type: tc.typ, Data: json.RawMessage(tc.data)}); got != tc.want {
			t.Errorf("%s %s → %q; want %q", tc.typ, tc.data, got, tc.want)
		}
	}
	// The signature is the lower-case hex HMAC-SHA256 of the body.
	if got := webhook.PaySign("key", []byte("The quick brown fox jumps over the lazy dog")); got != "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Errorf("PaySign = %s", got)
	}
}
