package casework_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vehicleregistry "github.com/portico-gov/portico/examples/plugins/vehicle-registry"
	"github.com/portico-gov/portico/internal/app"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/catalog"
	"github.com/portico-gov/portico/internal/catalog/manifest"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/gateway/gatewaytest"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
	"github.com/portico-gov/portico/internal/tenancy"
)

// flowManifest is a renewal whose workflow calls the example plug-in:
// on submission it looks the vehicle up and lets its colour decide (a
// stand-in for an insurance check: Blue renews, Silver is flagged), and
// on renewal it records the renewal, a non-idempotent operation.
const flowManifest = `id: vehicle-registration-renewal
version: 3
agency: dmv
jurisdictions: [example]
title: {en: Renew your vehicle registration, es: Renovar el registro de su vehículo}
summary: {en: Renew a vehicle registration., es: Renueve el registro de un vehículo.}
category: transport
keywords: {en: [car], es: [auto]}
kind: renewal
maturity: live
pages:
  - id: vehicle
    title: {en: Your vehicle, es: Su vehículo}
    schema:
      type: object
      required: [plate, type]
      properties:
        plate: {type: string, pattern: "^[A-Z0-9]{2,8}$"}
        type: {type: string, enum: [car, truck]}
    fields:
      plate: {label: {en: Plate number, es: Número de placa}, widget: text}
      type: {label: {en: Vehicle type, es: Tipo de vehículo}, widget: radios}
workflow:
  initial: submitted
  states:
    submitted:
      title: {en: Submitted, es: Enviada}
      sla: 2d
      on_enter:
        - call_plugin:
            plugin: vehicle-registry
            operation: find-vehicle
            data: [name]
            path: {plate: answers.vehicle.plate}
            decide: {from: color, transitions: {Blue: renew, Silver: flag}}
    renewed:
      title: {en: Renewed, es: Renovado}
      terminal: true
      on_enter:
        - call_plugin:
            plugin: vehicle-registry
            operation: record-renewal
            data: [name, answers:vehicle-registration-renewal]
            path: {plate: answers.vehicle.plate}
            body: {case_reference: case.reference, months: "12"}
    needs_review:
      title: {en: Being checked, es: En revisión}
      sla: 3d
    refused:
      title: {en: Not renewed, es: No renovado}
      terminal: true
  transitions:
    - {id: renew, from: submitted, to: renewed, by: [plugin, caseworker], guard: 'answers.vehicle.type != "truck"', label: {en: Renew, es: Renovar}}
    - {id: flag, from: submitted, to: needs_review, by: [plugin, caseworker], label: {en: Needs review, es: Necesita revisión}}
    - {id: approve, from: needs_review, to: renewed, by: [caseworker], label: {en: Approve, es: Aprobar}}
    - {id: refuse, from: needs_review, to: refused, by: [caseworker], label: {en: Refuse, es: Rechazar}}
`

// flowVersion is flowManifest's version: after the renewal gatewaytest
// publishes (version 2), so the cases are opened against flowManifest.
const flowVersion = 3

// refs checks plug-in uses against the real registry.
type refs struct{ r *plugin.Service }

func (x refs) CheckPluginUse(ctx context.Context, agency, service, id, op string, data []string) (string, error) {
	return x.r.CheckUse(ctx, agency, service, id, op, data)
}

// flowEnv is casework with the real gateway and the example plug-in on
// loopback (gatewaytest), the service above published, and a real River
// client working the calls.
type flowEnv struct {
	*env
	gw  *gatewaytest.Env
	log *audit.Log
	reg *jobs.Registry
	svc catalog.Published

	mu      sync.Mutex
	plugin  *vehicleregistry.Server
	handler http.Handler
	seen    *seen
}

// seen records what the plug-in received.
type seen struct {
	reqs []seenRequest
}

type seenRequest struct {
	Path, Key, Body string
	Claims          map[string]any
}

func newFlowEnv(t *testing.T, db *storage.DB) *flowEnv {
	t.Helper()
	g := gatewaytest.New(t, db, gatewaytest.Timeouts{Find: "500ms", Renew: "500ms"})
	clock := platform.NewFakeClock(time.Now().UTC())
	log := audit.New(db, clock, nil)
	ten, err := tenancy.New(db, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := platform.WithActor(context.Background(), platform.Actor{Kind: platform.ActorOperator, ID: "test"})
	cat, err := catalog.New(db, log, clock, ten, catalog.WithPlugins(refs{g.Registry}))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cat.Publish(ctx, "dmv", "flow.yaml", []byte(flowManifest))
	if err != nil {
		t.Fatal(err)
	}
	// The cases are acct-1's, and its calls carry personal data: the
	// gateway makes them only with acct-1's consent.
	g.GiveConsent(t, "acct-1")
	f := &flowEnv{env: &env{t: t, db: db, clock: clock, cat: cat, mailer: &mailer{}, ctx: ctx}, gw: g, svc: svc, log: log}
	g.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		f.seen.reqs = append(f.seen.reqs, seenRequest{Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Body: string(body), Claims: claimsOf(r)})
		h := f.handler
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	return f
}

// reset gives the env a fresh plug-in (no renewals recorded), handler
// (nil: the plug-in itself), gateway (fresh breaker) and casework block.
func (f *flowEnv) reset(t *testing.T, gcfg gateway.Config, handler func(real http.Handler) http.Handler) {
	t.Helper()
	f.t = t
	p := vehicleregistry.NewServer(vehicleregistry.Config{Issuer: f.gw.Issuer.URL})
	h := p.Handler()
	if handler != nil {
		h = handler(h)
	}
	f.mu.Lock()
	f.plugin, f.handler, f.seen = p, h, &seen{}
	f.mu.Unlock()
	ins, err := jobs.NewInserter(f.db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	gcfg.Backoff = 5 * time.Millisecond
	cw, err := casework.New(f.db, f.log, events.NewBus(f.clock), f.clock, casework.Deps{Runtimes: f.cat, Citizens: citizens{manifest.Person{Age: 40, Language: "en"}},
		Mailer: f.mailer, People: people{}, Plugins: app.CasePlugins{G: f.gw.Gateway(t, gcfg)}, Jobs: ins, PluginBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.cw = cw
	f.reg = jobs.NewRegistry()
	jobs.Register(f.reg, &casework.PluginCallWorker{Cases: cw})
}

// claimsOf reads the token's claims without checking them (the plug-in
// checked them: it answers 401 otherwise).
func claimsOf(r *http.Request) map[string]any {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var c map[string]any
	_ = json.Unmarshal(raw, &c)
	return c
}

func (f *flowEnv) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen.reqs...)
}

func (f *flowEnv) renewals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.plugin.Renewals())
}

// submit opens a case of the published service with a vehicle.
func (f *flowEnv) submit(id, plate, typ string) casework.Case {
	f.t.Helper()
	b, _ := json.Marshal(map[string]any{"vehicle": map[string]any{"plate": plate, "type": typ}})
	var c casework.Case
	err := f.db.InTx(f.ctx, func(tx *sql.Tx) error {
		now := f.clock.Now()
		if _, err := tx.ExecContext(f.ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
			VALUES ($1, $2, $3, 'dmv', 'acct-1', 'submitted', $4, $5, $5)`, id, f.svc.ID, f.svc.Version, string(b), now); err != nil {
			return err
		}
		var err error
		c, err = f.cw.Open(f.ctx, tx, casework.Opening{ApplicationID: id, AccountID: "acct-1", AgencyID: "dmv", ServiceID: f.svc.ID, Version: f.svc.Version})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// work runs the queued calls with a real River client until none is
// pending (or the deadline passes).
func (f *flowEnv) work() {
	f.t.Helper()
	c, err := jobs.New(f.db, f.reg, jobs.Config{Work: true, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.Start(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(f.ctx); err != nil {
			f.t.Error(err)
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if f.count(`SELECT COUNT(*) FROM case_plugin_calls WHERE status = 'pending'`) == 0 &&
			f.count(`SELECT COUNT(*) FROM river_job WHERE kind = 'casework.plugin_call' AND state NOT IN ('completed', 'cancelled', 'discarded')`) == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal("plug-in calls still pending after a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcomes lists the call_plugin and plugin_decision entries of a case
// as "action:plugin-operation:outcome[:reason]".
func (f *flowEnv) outcomes(id string) []string {
	f.t.Helper()
	es, err := f.cw.Timeline(f.ctx, id, true)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		switch e.Action() {
		case "call_plugin", "plugin_decision":
			s := e.Action() + ":" + e.Str("operation") + ":" + e.Str("outcome")
			if r := e.Str("reason"); r != "" {
				s += ":" + r
			}
			out = append(out, s)
		}
		if e.Action() != "" && !e.Internal {
			f.t.Errorf("the citizen sees a plug-in entry: %+v", e)
		}
	}
	return out
}

func TestPluginCalls(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFlowEnv(t, db)
		type tc struct {
			name     string
			plate    string
			typ      string
			gateway  gateway.Config
			handler  func(real http.Handler) http.Handler
			state    string
			outcomes []string
			renewals int
			check    func(t *testing.T, f *flowEnv, c casework.Case)
		}
		cases := []tc{
			{name: "decide renews, the renewal is recorded", plate: "EX4KQ218", typ: "car", state: "renewed",
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:decided",
					"call_plugin:record-renewal:queued", "call_plugin:record-renewal:ok"}, renewals: 1,
				check: func(t *testing.T, f *flowEnv, c casework.Case) {
					reqs := f.requests()
					if len(reqs) != 2 || reqs[0].Path != "/vehicles/EX4KQ218" || reqs[1].Path != "/vehicles/EX4KQ218/renewals" {
						t.Fatalf("requests: %+v", reqs)
					}
					var body map[string]any
					if err := json.Unmarshal([]byte(reqs[1].Body), &body); err != nil || body["case_reference"] != c.Reference || body["months"] != float64(12) {
						t.Fatalf("renewal body %s (%v)", reqs[1].Body, err)
					}
					cl := reqs[1].Claims
					answers, _ := cl["answers"].(map[string]any)
					if cl["case"] != c.ID || cl["agency"] != "dmv" || cl["service"] != "vehicle-registration-renewal" || cl["name"] != "Ana Citizen" ||
						cl["aud"] != "vehicle-registry" || answers["vehicle-registration-renewal"] == nil || cl["sub"] == "" || cl["sub"] == "acct-1" {
						t.Fatalf("claims: %v", cl)
					}
					if _, ok := reqs[0].Claims["answers"]; ok || reqs[0].Claims["name"] != "Ana Citizen" {
						t.Fatalf("find-vehicle carried more than its data: %v", reqs[0].Claims)
					}
					if reqs[0].Key == "" || reqs[1].Key == "" || reqs[0].Key == reqs[1].Key {
						t.Fatalf("idempotency keys %q %q", reqs[0].Key, reqs[1].Key)
					}
					f.mu.Lock()
					rs := f.plugin.Renewals()
					f.mu.Unlock()
					if rs[0].CaseReference != c.Reference {
						t.Fatalf("renewal recorded for %q", rs[0].CaseReference)
					}
					ev := f.emitted(c.ID)
					n := 0
					for _, e := range ev {
						if e == "plugin_called" {
							n++
						}
					}
					if n != 2 {
						t.Fatalf("events %v", ev)
					}
				}},
			{name: "decide flags", plate: "EX7MB904", typ: "car", state: "needs_review",
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:decided"}},
			{name: "a guard that fails leaves the case for staff", plate: "EX4KQ218", typ: "truck", state: "submitted",
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:staff:refused"}},
			{name: "an answer without the value leaves the case for staff", plate: "ZZ999", typ: "car", state: "submitted",
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:staff:no_value"}},
			{name: "a declared no is recorded with its status", plate: "ZZ000001", typ: "car", state: "submitted",
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:staff:no_value"},
				check: func(t *testing.T, f *flowEnv, c casework.Case) {
					// The exchange worked, but the plug-in said no (404, as
					// its OpenAPI document declares): the audit entry and
					// the event say so, so neither reads as done.
					if n := f.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.plugin_call' AND subject = $1 AND CAST(detail AS TEXT) LIKE '%"status":404%'`, "case:"+c.ID); n != 1 {
						t.Fatalf("audit entries with the plug-in's 404: %d", n)
					}
					if n := f.count(`SELECT COUNT(*) FROM event_log WHERE type = 'gov.portico.case.plugin_called' AND subject = $1 AND CAST(data AS TEXT) LIKE '%"status":404%'`, "case:"+c.ID); n != 1 {
						t.Fatalf("plugin_called events with the plug-in's 404: %d", n)
					}
				}},
			{name: "a value not in the map leaves the case for staff", plate: "EX4KQ218", typ: "car", state: "submitted",
				handler: func(real http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "application/json")
						_, _ = io.WriteString(w, `{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2018,"color":"Red","registration_expires":"2026-12-01"}`)
					})
				},
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:staff:unmapped"}},
			{name: "down then up: retried by the job, then decided", plate: "EX7MB904", typ: "car", state: "needs_review",
				gateway: gateway.Config{Retries: gateway.NoRetries, BreakerFailures: 100},
				handler: func(real http.Handler) http.Handler {
					var n atomic.Int64
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if n.Add(1) <= 2 {
							http.Error(w, "down", http.StatusServiceUnavailable)
							return
						}
						real.ServeHTTP(w, r)
					})
				},
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:decided"},
				check: func(t *testing.T, f *flowEnv, c casework.Case) {
					if n := f.count(`SELECT attempts FROM case_plugin_calls WHERE case_id = $1`, c.ID); n != 3 {
						t.Fatalf("attempts %d, want 3", n)
					}
				}},
			{name: "invalid response is a failure, retried, then staff are told", plate: "EX4KQ218", typ: "car", state: "submitted",
				gateway: gateway.Config{Retries: gateway.NoRetries, BreakerFailures: 100},
				handler: func(real http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "application/json")
						_, _ = io.WriteString(w, `{"plate":"EX4KQ218","vin":"short","color":"Blue"}`)
					})
				},
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:failed:invalid_response"},
				check: func(t *testing.T, f *flowEnv, c casework.Case) {
					if n := int64(f.count(`SELECT attempts FROM case_plugin_calls WHERE case_id = $1`, c.ID)); n != casework.PluginCallAttempts || int64(len(f.requests())) != n {
						t.Fatalf("attempts %d, plug-in hit %d times, want %d", n, len(f.requests()), casework.PluginCallAttempts)
					}
					// The plug-in's answer went nowhere: not to the
					// timeline, the audit log or the events.
					raw := f.count(`SELECT COUNT(*) FROM case_entries WHERE case_id = $1 AND CAST(detail AS TEXT) LIKE '%short%'`, c.ID) +
						f.count(`SELECT COUNT(*) FROM audit_entries WHERE CAST(detail AS TEXT) LIKE '%short%'`) + f.count(`SELECT COUNT(*) FROM event_log WHERE CAST(data AS TEXT) LIKE '%short%'`)
					if raw != 0 {
						t.Fatalf("the invalid body was passed on (%d places)", raw)
					}
				}},
			{name: "non-idempotent retry carries the same key and records once", plate: "EX4KQ218", typ: "car", state: "renewed",
				gateway: gateway.Config{Retries: gateway.NoRetries, BreakerFailures: 100},
				handler: func(real http.Handler) http.Handler {
					var lost atomic.Bool
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasSuffix(r.URL.Path, "/renewals") && lost.CompareAndSwap(false, true) {
							// Applied, but the answer is lost on the way back.
							real.ServeHTTP(discard{h: http.Header{}}, r)
							http.Error(w, "lost", http.StatusBadGateway)
							return
						}
						real.ServeHTTP(w, r)
					})
				},
				outcomes: []string{"call_plugin:find-vehicle:queued", "call_plugin:find-vehicle:ok", "plugin_decision:find-vehicle:decided",
					"call_plugin:record-renewal:queued", "call_plugin:record-renewal:ok"}, renewals: 1,
				check: func(t *testing.T, f *flowEnv, c casework.Case) {
					var keys []string
					for _, r := range f.requests() {
						if strings.HasSuffix(r.Path, "/renewals") {
							keys = append(keys, r.Key)
						}
					}
					if len(keys) != 2 || keys[0] != keys[1] || keys[0] == "" {
						t.Fatalf("renewal keys %q", keys)
					}
				}},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f.reset(t, c.gateway, c.handler)
				id := "00000000-0000-4000-8000-0000000000" + string(rune('a'+i/10)) + string(rune('0'+i%10))
				opened := f.submit(id, c.plate, c.typ)
				f.work()
				got := f.caseOf(opened.ID)
				if got.State != c.state {
					t.Fatalf("state %q, want %q (timeline %v)", got.State, c.state, f.outcomes(opened.ID))
				}
				if o := f.outcomes(opened.ID); strings.Join(o, " ") != strings.Join(c.outcomes, " ") {
					t.Fatalf("timeline\n got %v\nwant %v", o, c.outcomes)
				}
				if n := f.renewals(); n != c.renewals {
					t.Fatalf("%d renewals recorded, want %d", n, c.renewals)
				}
				if c.check != nil {
					c.check(t, f, got)
				}
				// A job that runs again records nothing more.
				before := f.outcomes(opened.ID)
				rows, err := db.Read().QueryContext(f.ctx, `SELECT id, use_pointer FROM case_plugin_calls WHERE case_id = $1`, opened.ID)
				if err != nil {
					t.Fatal(err)
				}
				var args []casework.PluginCallArgs
				for rows.Next() {
					a := casework.PluginCallArgs{Case: opened.ID, Service: f.svc.ID, Version: f.svc.Version}
					if err := rows.Scan(&a.Call, &a.Use); err != nil {
						t.Fatal(err)
					}
					args = append(args, a)
				}
				rows.Close()
				for _, a := range args {
					if err := f.cw.RunPluginCall(f.ctx, a, 1, casework.PluginCallAttempts); err != nil {
						t.Fatal(err)
					}
				}
				if after := f.outcomes(opened.ID); strings.Join(after, " ") != strings.Join(before, " ") {
					t.Fatalf("running the jobs again changed the timeline: %v", after)
				}
			})
		}
	})
}

// discard is a ResponseWriter that drops what it is given.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// TestPluginCallRollback: a transition that rolls back leaves no call and
// no job behind.
func TestPluginCallRollback(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFlowEnv(t, db)
		f.reset(t, gateway.Config{}, nil)
		boom := errors.New("boom")
		err := f.db.InTx(f.ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(f.ctx, `INSERT INTO applications (id, service_id, service_version, agency_id, account_id, status, answers, created_at, updated_at)
				VALUES ('00000000-0000-4000-8000-00000000ffff', $1, $2, 'dmv', 'acct-1', 'submitted', '{"vehicle":{"plate":"EX4KQ218","type":"car"}}', $3, $3)`,
				f.svc.ID, f.svc.Version, f.clock.Now()); err != nil {
				return err
			}
			if _, err := f.cw.Open(f.ctx, tx, casework.Opening{ApplicationID: "00000000-0000-4000-8000-00000000ffff", AccountID: "acct-1", AgencyID: "dmv",
				ServiceID: f.svc.ID, Version: f.svc.Version}); err != nil {
				return err
			}
			if n := countTx(t, tx, `SELECT COUNT(*) FROM river_job WHERE kind = 'casework.plugin_call'`); n != 1 {
				t.Errorf("inside the transaction: %d jobs, want 1", n)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n := f.count(`SELECT COUNT(*) FROM river_job WHERE kind = 'casework.plugin_call'`) + f.count(`SELECT COUNT(*) FROM case_plugin_calls`); n != 0 {
			t.Fatalf("%d jobs or calls left by a rolled-back transaction", n)
		}
	})
}

func countTx(t *testing.T, tx *sql.Tx, q string) int {
	t.Helper()
	var n int
	if err := tx.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
