package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

var (
	eli = platform.Actor{Kind: platform.ActorStaff, ID: "casey", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	ana = "acct-ana-0001"
)

func find(plate string) gateway.Request {
	return gateway.Request{Agency: "dmv", Service: "vehicle-registration-renewal", Case: "case-1", Person: ana, Plugin: "vehicle-registry",
		Operation: "find-vehicle", Path: map[string]string{"plate": plate},
		Data: map[string]any{"name": "Ana Example", "address": map[string]any{"locality": "Springfield"}}}
}

func renew(plate string) gateway.Request {
	r := find(plate)
	r.Operation, r.Body = "record-renewal", []byte(`{"case_reference":"DMV-2026-000001","months":12}`)
	return r
}

// counting wraps h, counting the requests and the most in flight at once.
type counting struct {
	h        http.Handler
	hits     atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	c.h.ServeHTTP(w, r)
}

func status(code int, ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func lastCall(t *testing.T, log *audit.Log) (audit.Entry, map[string]any) {
	t.Helper()
	es, err := log.List(context.Background(), audit.Filter{Subject: "plugin:vehicle-registry", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Action == "plugin.call" || es[i].Action == "plugin.refuse" {
			var d map[string]any
			if err := json.Unmarshal(es[i].Detail, &d); err != nil {
				t.Fatal(err)
			}
			return es[i], d
		}
	}
	t.Fatal("no plugin.call entry")
	return audit.Entry{}, nil
}

func TestCall(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{Find: "300ms", Renew: "300ms"})
		env.GiveConsent(t, ana) // the person agreed to share their data with the plug-in
		real := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL}).Handler()
		fast := gateway.Config{Backoff: 5 * time.Millisecond}

		type tc struct {
			name     string
			cfg      gateway.Config
			handler  http.Handler
			run      func(t *testing.T, g *gateway.Gateway, c *counting) (gateway.Response, error)
			outcome  string
			code     platform.Code // "" for success
			hits     int64         // -1: do not check
			attempts float64
			status   int
		}
		call := func(r gateway.Request) func(*testing.T, *gateway.Gateway, *counting) (gateway.Response, error) {
			return func(t *testing.T, g *gateway.Gateway, _ *counting) (gateway.Response, error) {
				return g.Call(context.Background(), eli, r)
			}
		}
		var flaky atomic.Int64
		var back atomic.Bool
		cases := []tc{
			{name: "ok", cfg: fast, handler: real, run: call(find("EX4KQ218")), outcome: "ok", hits: 1, attempts: 1, status: 200},
			{name: "declared 404 passes", cfg: fast, handler: real, run: call(find("ZZ999")), outcome: "ok", hits: 1, attempts: 1, status: 404},
			{name: "slow times out, retried because idempotent", cfg: gateway.Config{Backoff: 5 * time.Millisecond, Retries: 1},
				handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-time.After(2 * time.Second):
					case <-r.Context().Done():
					}
				}), run: call(find("EX4KQ218")), outcome: "timeout", code: platform.CodeUnavailable, hits: 2, attempts: 2},
			{name: "500 then ok, retried (idempotent)", cfg: fast, handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if flaky.Add(1) == 1 {
					http.Error(w, "boom", 500)
					return
				}
				real.ServeHTTP(w, r)
			}), run: call(find("EX4KQ218")), outcome: "ok", hits: 2, attempts: 2},
			{name: "500 not retried (not idempotent)", cfg: fast, handler: status(500, "text/plain", "boom"),
				run: call(renew("EX4KQ218")), outcome: "error", code: platform.CodeUnavailable, hits: 1, attempts: 1},
			{name: "invalid body refused", cfg: fast, handler: status(200, "application/json", `{"plate":"EX4KQ218","vin":"short","make":"Honda","model":"Civic","year":2018,"registration_expires":"2026-12-01"}`),
				run: call(find("EX4KQ218")), outcome: "invalid_response", code: platform.CodeUnavailable, hits: 1, attempts: 1},
			{name: "undeclared status refused", cfg: fast, handler: status(418, "application/json", `{}`),
				run: call(find("EX4KQ218")), outcome: "invalid_response", code: platform.CodeUnavailable, hits: 1, attempts: 1},
			{name: "not allowed: no HTTP call", cfg: fast, handler: real, run: func(t *testing.T, g *gateway.Gateway, _ *counting) (gateway.Response, error) {
				r := find("EX4KQ218")
				r.Data["email"] = "ana@example.com" // not approved by the DMV
				return g.Call(context.Background(), eli, r)
			}, outcome: "refused", code: platform.CodeForbidden, hits: 0},
			{name: "other service not allowed", cfg: fast, handler: real, run: func(t *testing.T, g *gateway.Gateway, _ *counting) (gateway.Response, error) {
				r := find("EX4KQ218")
				r.Service = "drivers-license-renewal"
				return g.Call(context.Background(), eli, r)
			}, outcome: "refused", code: platform.CodeForbidden, hits: 0},
			{name: "down then back: the circuit opens, then half-opens",
				cfg: gateway.Config{Retries: gateway.NoRetries, BreakerFailures: 2, BreakerOpen: 300 * time.Millisecond},
				handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if back.Load() {
						real.ServeHTTP(w, r)
						return
					}
					http.Error(w, "down", 500)
				}),
				run: func(t *testing.T, g *gateway.Gateway, c *counting) (gateway.Response, error) {
					for i := 0; i < 2; i++ {
						if _, err := g.Call(context.Background(), eli, find("EX4KQ218")); platform.ErrorCode(err) != platform.CodeUnavailable {
							t.Fatalf("call %d: %v", i, err)
						}
					}
					_, err := g.Call(context.Background(), eli, find("EX4KQ218"))
					if _, d := lastCall(t, env.Log); d["outcome"] != "circuit_open" || c.hits.Load() != 2 || gateway.MessageKey(err) != "gateway.unavailable" {
						t.Fatalf("third call: %v, audit %v, hits %d", err, d, c.hits.Load())
					}
					time.Sleep(350 * time.Millisecond)
					back.Store(true)
					return g.Call(context.Background(), eli, find("EX4KQ218"))
				}, outcome: "ok", hits: 3, attempts: 1},
			{name: "concurrency limit", cfg: gateway.Config{MaxConcurrent: 2},
				handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(40 * time.Millisecond)
					real.ServeHTTP(w, r)
				}),
				run: func(t *testing.T, g *gateway.Gateway, c *counting) (gateway.Response, error) {
					var wg sync.WaitGroup
					errs := make(chan error, 6)
					for i := 0; i < 6; i++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							_, err := g.Call(context.Background(), eli, find("EX7MB904"))
							errs <- err
						}()
					}
					wg.Wait()
					close(errs)
					for err := range errs {
						if err != nil {
							t.Fatal(err)
						}
					}
					if p := c.peak.Load(); p != 2 {
						t.Fatalf("peak in flight %d, want 2", p)
					}
					return g.Call(context.Background(), eli, find("EX7MB904"))
				}, outcome: "ok", hits: 7, attempts: 1},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ch := &counting{h: c.handler}
				env.SetHandler(ch)
				g := env.Gateway(t, c.cfg)
				res, err := c.run(t, g, ch)
				if platform.ErrorCode(err) != c.code {
					t.Fatalf("err %v (code %q), want code %q", err, platform.ErrorCode(err), c.code)
				}
				if c.hits >= 0 && ch.hits.Load() != c.hits {
					t.Fatalf("the plug-in was called %d times, want %d", ch.hits.Load(), c.hits)
				}
				e, d := lastCall(t, env.Log)
				if c.outcome == "refused" {
					if e.Action != "plugin.refuse" || e.AgencyID != "dmv" {
						t.Fatalf("refusal audit: %+v %v", e, d)
					}
					return
				}
				if e.Action != "plugin.call" || d["outcome"] != c.outcome || e.AgencyID != "dmv" || e.Actor != eli.String() {
					t.Fatalf("audit: %s by %s: %v", e.Action, e.Actor, d)
				}
				if _, ok := d["duration_ms"].(float64); !ok || d["attempts"] != c.attempts || d["case"] != "case-1" || d["service"] != "vehicle-registration-renewal" {
					t.Fatalf("audit detail: %v", d)
				}
				if h, _ := d["request_sha256"].(string); len(h) != 64 {
					t.Fatalf("request hash: %v", d)
				}
				if c.outcome == "ok" || c.outcome == "invalid_response" {
					if h, _ := d["response_sha256"].(string); len(h) != 64 {
						t.Fatalf("response hash: %v", d)
					}
				}
				raw, _ := json.Marshal(d)
				if strings.Contains(string(raw), "Ana Example") || strings.Contains(string(raw), "Honda") {
					t.Fatalf("the audit holds a body or personal data: %s", raw)
				}
				if c.status != 0 && res.Status != c.status {
					t.Fatalf("status %d, want %d", res.Status, c.status)
				}
				if c.code == "" && res.Status == 0 {
					t.Fatalf("no status: %+v", res)
				}
			})
		}
	})
}

// TestIdempotencyKey: the key travels as the Idempotency-Key header, and
// the example plug-in applies a repeated non-idempotent call once,
// answers it the same, and refuses the key's reuse for another request.
// A key that cannot be a header value is refused before any call.
func TestIdempotencyKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		env.GiveConsent(t, "acct-ana-0001") // the calls below are for Ana, carrying her data
		srv := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL})
		var keys []string
		var mu sync.Mutex
		env.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			mu.Unlock()
			srv.Handler().ServeHTTP(w, r)
		}))
		g := env.Gateway(t, gateway.Config{})
		ctx := context.Background()
		type step struct {
			name, plate, key, body string
			status                 int
			code                   platform.Code
			renewals               int
		}
		var first []byte
		for _, s := range []step{
			{"first", "EX4KQ218", "case-1:call:1", `{"case_reference":"DMV-2026-000001","months":12}`, 201, "", 1},
			{"retry", "EX4KQ218", "case-1:call:1", `{"case_reference":"DMV-2026-000001","months":12}`, 201, "", 1},
			{"another request, same key", "EX4KQ218", "case-1:call:1", `{"case_reference":"DMV-2026-000001","months":24}`, 422, "", 1},
			{"another vehicle without a key", "EX7MB904", "", `{"case_reference":"DMV-2026-000001","months":12}`, 201, "", 2},
			{"key with a space", "EX7MB904", "case 1", `{"case_reference":"DMV-2026-000001","months":12}`, 0, platform.CodeInvalid, 2},
			{"key too long", "EX7MB904", strings.Repeat("k", 256), `{"case_reference":"DMV-2026-000001","months":12}`, 0, platform.CodeInvalid, 2},
		} {
			r := renew(s.plate)
			r.IdempotencyKey, r.Body = s.key, []byte(s.body)
			mu.Lock()
			keys = nil
			mu.Unlock()
			res, err := g.Call(ctx, eli, r)
			if platform.ErrorCode(err) != s.code || res.Status != s.status {
				t.Fatalf("%s: %v (code %q) status %d %s, want %q %d", s.name, err, platform.ErrorCode(err), res.Status, res.Body, s.code, s.status)
			}
			if n := len(srv.Renewals()); n != s.renewals {
				t.Fatalf("%s: %d renewals recorded, want %d", s.name, n, s.renewals)
			}
			mu.Lock()
			got := keys
			mu.Unlock()
			if s.code != "" {
				if len(got) != 0 {
					t.Fatalf("%s: the plug-in was called: %q", s.name, got)
				}
				continue
			}
			if len(got) != 1 || got[0] != s.key {
				t.Fatalf("%s: the plug-in saw keys %q, want [%q]", s.name, got, s.key)
			}
			switch s.name {
			case "first":
				first = res.Body
			case "retry":
				if string(res.Body) != string(first) {
					t.Fatalf("the retry was answered %s, the first call %s", res.Body, first)
				}
			}
		}
	})
}

// TestConsent: a call for a person that carries personal data needs their
// consent, checked before any HTTP call; a refusal is audited with the
// person (reason no_consent); a withdrawal takes effect at once; data the
// consent does not cover is refused; calls for no person are unaffected.
func TestConsent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		env := gatewaytest.New(t, db, gatewaytest.Timeouts{})
		ch := &counting{h: vehicleregistry.NewServer(vehicleregistry.Config{Issuer: env.Issuer.URL}).Handler()}
		env.SetHandler(ch)
		g := env.Gateway(t, gateway.Config{})
		ctx := context.Background()
		bea := "acct-bea-0002"
		noConsent := func(t *testing.T, r gateway.Request) {
			t.Helper()
			before := ch.hits.Load()
			_, err := g.Call(ctx, eli, r)
			var ce *gateway.ConsentError
			if platform.ErrorCode(err) != platform.CodeForbidden || !errors.As(err, &ce) {
				t.Fatalf("err %v, want a consent refusal", err)
			}
			if ch.hits.Load() != before {
				t.Fatal("the plug-in was called without consent")
			}
			e, d := lastCall(t, env.Log)
			if e.Action != "plugin.refuse" || d["reason"] != gateway.ReasonNoConsent || d["outcome"] != "refused" || d["person"] != r.Person {
				t.Fatalf("refusal audit: %s %v", e.Action, d)
			}
			es, err := env.Log.ForPerson(ctx, r.Person, 0, 1)
			if err != nil || len(es) != 1 || es[0].Seq != e.Seq {
				t.Fatalf("the refusal is not among the person's entries: %v %v", es, err)
			}
		}
		ok := func(t *testing.T, r gateway.Request) {
			t.Helper()
			if res, err := g.Call(ctx, eli, r); err != nil || res.Status != 200 {
				t.Fatalf("call: %v %d", err, res.Status)
			}
		}
		forBea := find("EX4KQ218")
		forBea.Person = bea
		t.Run("no consent", func(t *testing.T) { noConsent(t, forBea) })
		t.Run("no person: agency-level call", func(t *testing.T) {
			r := find("EX4KQ218")
			r.Person = ""
			ok(t, r)
		})
		t.Run("person without data", func(t *testing.T) {
			r := forBea
			r.Data = nil
			ok(t, r)
		})
		c := env.GiveConsent(t, bea)
		t.Run("with consent", func(t *testing.T) {
			ok(t, forBea)
			e, d := lastCall(t, env.Log)
			es, err := env.Log.ForPerson(ctx, bea, 0, 1)
			if err != nil || len(es) != 1 || es[0].Seq != e.Seq || d["person"] != bea {
				t.Fatalf("the call is not among the person's entries: %v %v", es, err)
			}
		})
		t.Run("data beyond the consent", func(t *testing.T) {
			r := forBea
			r.Data = map[string]any{"name": "Bea", "phone": "+15555550100"}
			_, err := g.Call(ctx, eli, r)
			if platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("err %v, want forbidden", err) // the registry refuses phone first (not asked for)
			}
		})
		t.Run("another service", func(t *testing.T) {
			r := forBea
			r.Service = "another-service"
			if _, err := g.Call(ctx, eli, r); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("err %v, want forbidden", err)
			}
		})
		if _, err := env.Consents.Withdraw(ctx, platform.Actor{Kind: platform.ActorCitizen, ID: bea}, c.ID); err != nil {
			t.Fatal(err)
		}
		t.Run("withdrawn: refused at once", func(t *testing.T) { noConsent(t, forBea) })
		t.Run("nil Consents refuses", func(t *testing.T) {
			g2, err := gateway.New(env.Registry, env.OIDC, env.Log, env.Box, platform.SystemClock{}, nil, gateway.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g2.Call(ctx, eli, find("EX4KQ218")); platform.ErrorCode(err) != platform.CodeForbidden {
				t.Fatalf("err %v, want forbidden", err)
			}
		})
	})
}
