package webhook_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/webhook"
)

// The spec's published test vector (standard-webhooks/spec, and the
// library's TestWebhookSign): the independent verifier must accept it.
func TestVerifierSpecVector(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	if err := verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, now, 5*time.Minute); err != nil {
		t.Fatalf("spec vector: %v", err)
	}
	for name, mut := range map[string]func(){
		"body":      func() { body = []byte(`{"test": 2432232315}`) },
		"timestamp": func() { h.Set("webhook-timestamp", "1614265331") },
		"old":       func() { now = now.Add(6 * time.Minute) },
	} {
		saveBody, saveTS, saveNow := body, h.Get("webhook-timestamp"), now
		mut()
		if err := verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, now, 5*time.Minute); err == nil {
			t.Errorf("%s changed: verified anyway", name)
		}
		body, now = saveBody, saveNow
		h.Set("webhook-timestamp", saveTS)
	}
}

func TestDelivery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		recv := newReceiver(t)
		r := newRig(t, db, recv, rigOpts{maxAttempts: 3})

		t.Run("signed CloudEvent with a minimal payload", func(t *testing.T) {
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e1")
			got := <-recv.ch
			r.waitStatus(t, id, webhook.StatusDelivered)
			if err := verify(r.secret, got.Header, got.Body, time.Now(), time.Minute); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got.Header.Get("webhook-id") != id {
				t.Errorf("webhook-id = %q, want the event id %s", got.Header.Get("webhook-id"), id)
			}
			var ce map[string]any
			if err := json.Unmarshal(got.Body, &ce); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"specversion": "1.0", "id": id, "type": typeTransitioned, "source": "/portico/casework",
				"subject": "case:0190a1b2-0000-7000-8000-0000000ca5e1", "porticoagency": "dmv", "datacontenttype": "application/json"} {
				if ce[k] != want {
					t.Errorf("%s = %v, want %q", k, ce[k], want)
				}
			}
			data := ce["data"].(map[string]any)
			if data["person"] != gateway.PairwiseSubject(r.box, "vehicle-registry", accountID) {
				t.Errorf("person = %v, want the gateway's pairwise subject", data["person"])
			}
			detail := data["detail"].(map[string]any)
			if len(detail) != 3 || detail["from"] != "review" || detail["to"] != "approved" || detail["transition"] != "approve" {
				t.Errorf("detail = %v, want transition, from and to only", detail)
			}
			for _, leak := range []string{accountID, "00000000057a", "secret staff note", "account_id", "assignee", "4500"} {
				if strings.Contains(string(got.Body), leak) {
					t.Errorf("the body leaks %q: %s", leak, got.Body)
				}
			}
		})

		t.Run("retries then succeeds", func(t *testing.T) {
			start := recv.count()
			recv.script(func(n int, w http.ResponseWriter) {
				if n-start <= 2 {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e2")
			if n := r.waitStatus(t, id, webhook.StatusDelivered); n != 3 {
				t.Errorf("attempts = %d, want 3 (two 500s, then 200)", n)
			}
			var ids []string
			for _, g := range recv.since(start) {
				ids = append(ids, g.Header.Get("webhook-id"))
			}
			if len(ids) != 3 || ids[0] != id || ids[1] != id || ids[2] != id {
				t.Errorf("webhook-ids = %v, want the event id on every attempt", ids)
			}
		})

		t.Run("429 honours Retry-After without counting a failure", func(t *testing.T) {
			start := recv.count()
			recv.script(func(n int, w http.ResponseWriter) {
				if n-start == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			})
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e3")
			if n := r.waitStatus(t, id, webhook.StatusDelivered); n != 1 {
				t.Errorf("attempts = %d, want 1 (the 429 is not a failure)", n)
			}
			g := recv.since(start)
			if len(g) != 2 {
				t.Fatalf("requests = %d, want 2", len(g))
			}
			if gap := g[1].At.Sub(g[0].At); gap < time.Second {
				t.Errorf("retried after %s, before Retry-After's 1s", gap)
			}
		})

		t.Run("dead letter after the limit, then replay delivers", func(t *testing.T) {
			recv.script(func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e4")
			if n := r.waitStatus(t, id, webhook.StatusDead); n != 3 {
				t.Errorf("attempts = %d, want 3", n)
			}
			ov, err := r.svc.List(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "op"}, "vehicle-registry", true)
			if err != nil {
				t.Fatal(err)
			}
			if len(ov.Deliveries) != 1 || ov.Deliveries[0].Event != id || ov.DeadCount != 1 || ov.Deliveries[0].LastStatus != 503 {
				t.Fatalf("dead letters = %+v", ov)
			}
			if !hasAudit(t, r, "plugin.webhook.dead") {
				t.Error("no plugin.webhook.dead audit entry")
			}
			recv.script(nil)
			ds, err := r.svc.Replay(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "op"}, "vehicle-registry", webhook.ReplayRequest{AllDead: true})
			if err != nil || len(ds) != 1 {
				t.Fatalf("replay = %v, %v", ds, err)
			}
			r.waitStatus(t, id, webhook.StatusDelivered)
			if !hasAudit(t, r, "plugin.webhook.replay") {
				t.Error("no plugin.webhook.replay audit entry")
			}
			if _, err := r.svc.Replay(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "op"}, "vehicle-registry", webhook.ReplayRequest{Delivery: "not-a-uuid"}); platform.ErrorCode(err) != platform.CodeNotFound {
				t.Errorf("replay of a bad id: %v, want not_found", err)
			}
		})

		t.Run("410 stops until enabled again", func(t *testing.T) {
			recv.script(func(n int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) })
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e5")
			if n := r.waitStatus(t, id, webhook.StatusStopped); n != 1 {
				t.Errorf("attempts = %d, want 1", n)
			}
			if !hasAudit(t, r, "plugin.webhook.stop") {
				t.Error("no plugin.webhook.stop audit entry")
			}
			recv.script(nil)
			before := recv.count()
			later := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e6")
			r.waitFanned(t, later)
			if st, _, ok := r.delivery(t, later); ok {
				r.waitStatus(t, later, webhook.StatusStopped)
				_ = st
			}
			if recv.count() != before {
				t.Errorf("the plug-in got %d requests after its 410", recv.count()-before)
			}
			ov, err := r.svc.List(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "op"}, "vehicle-registry", false)
			if err != nil || len(ov.Stops) != 1 || !ov.Stops[0].Active {
				t.Fatalf("stops = %+v, %v", ov, err)
			}
			time.Sleep(10 * time.Millisecond) // the enablement's time must follow the stop's
			r.enable(t, "dmv")
			again := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5e7")
			r.waitStatus(t, again, webhook.StatusDelivered)
			if ov, _ := r.svc.List(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "op"}, "vehicle-registry", false); len(ov.Stops) != 1 || ov.Stops[0].Active {
				t.Errorf("stop still active after enabling again: %+v", ov.Stops)
			}
		})

		t.Run("scope: other agencies, no agency, unsubscribed types get nothing", func(t *testing.T) {
			before := recv.count()
			var none []string
			none = append(none, r.emit(t, typeTransitioned, "adams-clerk", "0190a1b2-0000-7000-8000-0000000ca5e8")) // not enabled there
			none = append(none, r.emit(t, typeTransitioned, "", "0190a1b2-0000-7000-8000-0000000ca5e9"))            // no agency
			none = append(none, r.emit(t, typeOpened, "dmv", "0190a1b2-0000-7000-8000-0000000ca5ea"))               // not asked for
			marker := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5eb")
			r.waitStatus(t, marker, webhook.StatusDelivered) // the consumer handled everything before it
			for _, id := range none {
				if _, _, ok := r.delivery(t, id); ok {
					t.Errorf("event %s has a delivery", id)
				}
			}
			if n := recv.count() - before; n != 1 {
				t.Errorf("the plug-in got %d requests, want 1 (the marker)", n)
			}
		})

		t.Run("the example plug-in receives and verifies", func(t *testing.T) {
			ex := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: "http://127.0.0.1:1", WebhookSecret: func() (string, error) { return r.secret, nil }})
			srv := httptest.NewServer(ex.Handler())
			defer srv.Close()
			r.register(t, srv.URL+"/portico/events") // a new version: same secret, same enablements
			defer r.register(t, recv.srv.URL+"/portico/events")
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5ed")
			r.waitStatus(t, id, webhook.StatusDelivered)
			if evs := ex.Events(); len(evs) != 1 || evs[0].ID != id {
				t.Errorf("the example got %+v, want event %s", evs, id)
			}
		})

		t.Run("fan-out is idempotent", func(t *testing.T) {
			id := r.emit(t, typeTransitioned, "dmv", "0190a1b2-0000-7000-8000-0000000ca5ec")
			r.waitStatus(t, id, webhook.StatusDelivered)
			e := readEvent(t, r.db, id)
			jobsBefore := r.count(t, `SELECT COUNT(*) FROM river_job WHERE kind = 'webhook.deliver'`)
			for range 2 {
				if err := r.svc.FanOut(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			// Even without the consumer's receipt, the (event, plug-in) pair is unique.
			if _, err := r.db.Write().ExecContext(context.Background(), `DELETE FROM event_receipts WHERE event_id = $1`, id); err != nil {
				t.Fatal(err)
			}
			if err := r.svc.FanOut(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if n := r.count(t, `SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = $1`, id); n != 1 {
				t.Errorf("deliveries = %d, want 1", n)
			}
			if n := r.count(t, `SELECT COUNT(*) FROM river_job WHERE kind = 'webhook.deliver'`); n != jobsBefore {
				t.Errorf("jobs = %d after fanning out again, want %d", n, jobsBefore)
			}
		})
	})
}

// waitFanned waits until the consumer has handled the event.
func (r *rig) waitFanned(t testing.TB, eventID string) {
	wait(t, "the consumer to pass "+eventID, func() bool {
		return r.count(t, `SELECT COUNT(*) FROM event_log l, event_consumers c WHERE l.event_id = $1 AND c.name = 'webhooks' AND l.position > 0 AND c.position >= l.position`, eventID) == 1
	})
}

func readEvent(t testing.TB, db *storage.DB, id string) events.Event {
	evs, err := events.Read(context.Background(), db, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("event %s not in the log", id)
	return events.Event{}
}

func hasAudit(t testing.TB, r *rig, action string) bool {
	es, err := r.log.List(context.Background(), audit.Filter{Subject: "plugin:vehicle-registry", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action == action {
			return true
		}
	}
	return false
}

// TestConsentEvents: a consent event reaches the plug-in it names with
// its data (the consent block writes the plug-in's pairwise subject,
// never the account), and no other plug-in the agency enabled.
func TestConsentEvents(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		recv := newReceiver(t)
		r := newRig(t, db, recv, rigOpts{maxAttempts: 3})
		emit := func(t *testing.T, typ, data string) string {
			t.Helper()
			id := newID()
			err := r.db.InTx(context.Background(), func(tx *sql.Tx) error {
				return r.bus.Emit(context.Background(), tx, events.Event{ID: id, Source: "/portico/consent", Type: typ,
					Subject: "consent:0190a1b2-0000-7000-8000-0000000c0a5e", AgencyID: "dmv", Data: []byte(data)})
			})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		mine := `{"consent":"0190a1b2-0000-7000-8000-0000000c0a5e","agency":"dmv","service":"vehicle-registration-renewal",` +
			`"plugin":"vehicle-registry","data":["name"],"subject":"5f0c3a7d","given_at":"2026-12-05T10:00:00Z","expires_at":"2027-12-05T10:00:00Z"}`
		other := strings.Replace(mine, `"plugin":"vehicle-registry"`, `"plugin":"counter-booking"`, 1)
		for _, tc := range []struct {
			name, typ, data string
			delivered       bool
		}{
			{"another plug-in's consent is not sent", typeConsentGiven, other, false},
			{"a consent naming no plug-in is sent to none, and holds up nothing", typeConsentGiven, `{"consent":"0190a1b2-0000-7000-8000-0000000c0a5e"}`, false},
			{"given, to the plug-in it names, with its data", typeConsentGiven, mine, true},
			{"withdrawn, to the plug-in it names, with its data", typeConsentWithdrawn,
				strings.Replace(mine, `"given_at":"2026-12-05T10:00:00Z","expires_at":"2027-12-05T10:00:00Z"`, `"withdrawn_at":"2026-12-06T10:00:00Z"`, 1), true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				start := recv.count()
				id := emit(t, tc.typ, tc.data)
				if !tc.delivered {
					// Events are handled in log order: once a later one is
					// delivered, this one was handled.
					r.waitStatus(t, emit(t, tc.typ, mine), webhook.StatusDelivered)
					if st, _, ok := r.delivery(t, id); ok {
						t.Fatalf("delivery %s recorded for another plug-in's consent", st)
					}
					for _, g := range recv.since(start) {
						if g.Header.Get("webhook-id") == id {
							t.Fatalf("another plug-in's consent was sent: %s", g.Body)
						}
					}
					return
				}
				r.waitStatus(t, id, webhook.StatusDelivered)
				var got received
				for _, g := range recv.since(start) {
					if g.Header.Get("webhook-id") == id {
						got = g
					}
				}
				if err := verify(r.secret, got.Header, got.Body, time.Now(), time.Minute); err != nil {
					t.Fatalf("signature: %v", err)
				}
				var ce struct {
					Type            string          `json:"type"`
					Subject         string          `json:"subject"`
					DataContentType string          `json:"datacontenttype"`
					Data            json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(got.Body, &ce); err != nil {
					t.Fatal(err)
				}
				if ce.Type != tc.typ || ce.DataContentType != "application/json" || string(ce.Data) != tc.data {
					t.Errorf("type %q, datacontenttype %q, data %s; want %q, application/json, %s", ce.Type, ce.DataContentType, ce.Data, tc.typ, tc.data)
				}
			})
		}
	})
}

func TestPolicy(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		r := newRig(t, db, newReceiver(t), rigOpts{noStart: true})
		staff := func(admin bool, grants ...platform.Grant) platform.Actor {
			return platform.Actor{Kind: platform.ActorStaff, ID: "0190a1b2-0000-7000-8000-00000000057a", Grants: grants, PlatformAdmin: admin}
		}
		for _, tc := range []struct {
			name  string
			actor platform.Actor
			want  platform.Code
		}{
			{"operator", platform.Actor{Kind: platform.ActorOperator, ID: "op"}, ""},
			{"platform administrator", staff(true), ""},
			{"administrator of an agency that enabled it", staff(false, platform.Grant{Agency: "dmv", Role: "agency_admin"}), ""},
			{"administrator of another agency", staff(false, platform.Grant{Agency: "adams-clerk", Role: "agency_admin"}), platform.CodeForbidden},
			{"caseworker of the enabling agency", staff(false, platform.Grant{Agency: "dmv", Role: "caseworker"}), platform.CodeForbidden},
			{"citizen", platform.Actor{Kind: platform.ActorCitizen, ID: accountID}, platform.CodeForbidden},
			{"anonymous", platform.Actor{}, platform.CodeUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.svc.List(context.Background(), tc.actor, "vehicle-registry", false)
				if platform.ErrorCode(err) != tc.want && !(tc.want == "" && err == nil) {
					t.Errorf("List: %v, want %q", err, tc.want)
				}
				_, err = r.svc.Replay(context.Background(), tc.actor, "vehicle-registry", webhook.ReplayRequest{AllDead: true})
				if platform.ErrorCode(err) != tc.want && !(tc.want == "" && err == nil) {
					t.Errorf("Replay: %v, want %q", err, tc.want)
				}
			})
		}
		if _, err := r.svc.List(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "op"}, "no-such-plugin", false); platform.ErrorCode(err) != platform.CodeNotFound {
			t.Errorf("unknown plug-in: %v, want not_found", err)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"Sat, 05 Dec 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sat, 05 Dec 2026 11:00:00 GMT", 0, true}, // past: now
		{"Saturday, 05-Dec-26 12:01:00 GMT", time.Minute, true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, ok := webhook.RetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Sat, 05 Dec 2026 12:00:30 GMT", "Saturday, 05-Dec-26 12:01:00 GMT", "Sat Dec  5 12:00:30 2026", "-1", "1e9", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := webhook.RetryAfter(s, now)
		if d < 0 || (!ok && d != 0) || d > 366*24*time.Hour {
			t.Fatalf("RetryAfter(%q) = %s, %v", s, d, ok)
		}
	})
}

// FuzzVerify: the independent verifier accepts exactly what is signed.
func FuzzVerify(f *testing.F) {
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test": 2432232314}`), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	f.Add("", int64(0), []byte{}, "v1,")
	f.Add("id", int64(-1), []byte("x"), "v2,abc v1,=== ,")
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	f.Fuzz(func(t *testing.T, id string, ts int64, body []byte, sig string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconvI(ts))
		h.Set("webhook-signature", sig)
		now := time.Unix(ts, 0)
		err := verify(secret, h, body, now, time.Minute)
		good := sign(secret, h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
		if err == nil && !strings.Contains(" "+sig+" ", " "+good+" ") && !strings.Contains(sig, strings.TrimPrefix(good, "v1,")) {
			t.Fatalf("verified a signature it did not make: %q", sig)
		}
		h.Set("webhook-signature", good)
		if h.Get("webhook-id") != "" && verify(secret, h, body, now, time.Minute) != nil {
			t.Fatalf("refused its own signature for id %q", id)
		}
	})
}
