package casework_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-gov/portico/internal/casework"
	"github.com/portico-gov/portico/internal/gateway"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/storage/storagetest"
)

// recordsManifest is a renewal whose workflow keeps fields of plug-in
// answers (ADR 63): the lookup records the plate, VIN, year and colour;
// the renewal, once staff renew, reads the recorded plate, records the
// new expiry and forgets the VIN and colour. Staff take "renew", so a
// test can enter "renewed" while the lookup is still pending.
const recordsManifest = `id: vehicle-registration-renewal
version: 4
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
            record: {plate: plate, vin: vin, year: year, color: color}
    renewed:
      title: {en: Renewed, es: Renovado}
      terminal: true
      on_enter:
        - call_plugin:
            plugin: vehicle-registry
            operation: record-renewal
            data: [name]
            path: {plate: recorded.plate}
            body: {case_reference: case.reference, months: "12"}
            record: {expires: registration_expires}
            forget: [vin, color]
  transitions:
    - {id: renew, from: submitted, to: renewed, by: [caseworker], label: {en: Renew, es: Renovar}}
`

// recCase is one scenario of TestPluginRecords: the plug-in's behaviour
// (handler wraps the real example plug-in) and the steps a test takes,
// then what the case must hold.
type recCase struct {
	name    string
	plate   string
	handler func(real http.Handler) http.Handler
	steps   func(t *testing.T, r *recRun)
	// calls are the case's calls at the end, "operation:status:last
	// outcome:attempts", oldest first.
	calls    []string
	records  map[string]any
	renewals int
	// hits is how many requests reached the plug-in per path suffix
	// ("find" or "renewals").
	hits map[string]int
}

// recRun is one scenario's case and the means to drive its calls.
type recRun struct {
	f *flowEnv
	c casework.Case
}

// args is the job of the case's call of operation (there is one).
func (r *recRun) args(t *testing.T, operation string) casework.PluginCallArgs {
	t.Helper()
	a := casework.PluginCallArgs{Case: r.c.ID, Service: r.c.ServiceID, Version: r.c.ServiceVersion}
	err := r.f.db.Read().QueryRowContext(r.f.ctx, `SELECT id, use_pointer FROM case_plugin_calls WHERE case_id = $1 AND operation = $2`, r.c.ID, operation).
		Scan(&a.Call, &a.Use)
	if err != nil {
		t.Fatalf("call of %s: %v", operation, err)
	}
	return a
}

// run makes attempt (of PluginCallAttempts) of the call of operation, as
// River's worker does, and checks whether it asked for another attempt.
func (r *recRun) run(t *testing.T, operation string, attempt int, wantRetry bool) {
	t.Helper()
	err := r.f.cw.RunPluginCall(r.f.ctx, r.args(t, operation), attempt, casework.PluginCallAttempts)
	if (err != nil) != wantRetry {
		t.Fatalf("%s attempt %d: err %v, want a retry: %v", operation, attempt, err, wantRetry)
	}
}

// renew is staff taking "renew", which queues the renewal call.
func (r *recRun) renew(t *testing.T) {
	t.Helper()
	staff := platform.Actor{Kind: platform.ActorStaff, ID: "staff-1", Grants: []platform.Grant{{Agency: "dmv", Role: "caseworker"}}}
	if _, err := r.f.cw.Take(r.f.ctx, staff, r.c.ID, "renew"); err != nil {
		t.Fatal(err)
	}
}

// failing answers status to every request whose path ends with suffix,
// and passes the rest to the plug-in.
func failing(suffix string, status int) func(http.Handler) http.Handler {
	return func(real http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, suffix) {
				http.Error(w, "down", status)
				return
			}
			real.ServeHTTP(w, r)
		})
	}
}

// TestPluginRecords: the record, forget, skip and wait steps of a
// workflow's plug-in calls, each call made attempt by attempt against the
// real gateway and the example plug-in on loopback, on both databases.
// Whatever a scenario does, every call is recorded once: one finishing
// timeline entry, audit record and event per call, and a job that runs
// again (or twice at once) adds nothing.
func TestPluginRecords(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFlowEnv(t, db)
		svc, err := f.cat.Publish(f.ctx, "dmv", "records.yaml", []byte(recordsManifest))
		if err != nil {
			t.Fatal(err)
		}
		f.svc = svc
		// The plug-in answers the plate as it is written; the renewal's
		// expiry depends on today, so it is compared as "<date>".
		found := map[string]any{"plate": "EX 4KQ-218", "vin": "1HGCM82633A004352", "year": float64(2018), "color": "Blue"}
		renewed := map[string]any{"plate": "EX 4KQ-218", "year": float64(2018), "expires": "<date>"}
		cases := []recCase{
			{name: "record keeps the declared properties of a 2xx answer", plate: "EX4KQ218",
				steps:   func(t *testing.T, r *recRun) { r.run(t, "find-vehicle", 1, false) },
				calls:   []string{"find-vehicle:ok:ok:1"},
				records: found, hits: map[string]int{"find": 1}},
			{name: "a property the answer lacks is not recorded", plate: "EX4KQ218",
				handler: func(real http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "application/json")
						_, _ = io.WriteString(w, `{"plate":"EX4KQ218","vin":"1HGCM82633A004352","make":"Honda","model":"Civic","year":2018,"registration_expires":"2026-12-01"}`)
					})
				},
				steps:   func(t *testing.T, r *recRun) { r.run(t, "find-vehicle", 1, false) },
				calls:   []string{"find-vehicle:ok:ok:1"},
				records: map[string]any{"plate": "EX4KQ218", "vin": "1HGCM82633A004352", "year": float64(2018)}, hits: map[string]int{"find": 1}},
			{name: "forget and record on the next call", plate: "EX4KQ218",
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, false)
					r.renew(t)
					r.run(t, "record-renewal", 1, false)
				},
				calls:   []string{"find-vehicle:ok:ok:1", "record-renewal:ok:ok:1"},
				records: renewed, renewals: 1, hits: map[string]int{"find": 1, "renewals": 1}},
			{name: "skip: a call reading a value never recorded is not made", plate: "ZZ000001",
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, false) // 404: a declared no, nothing recorded
					r.renew(t)
					r.run(t, "record-renewal", 1, false)
				},
				calls:   []string{"find-vehicle:ok:ok:1", "record-renewal:ok:skipped:1"},
				records: map[string]any{}, hits: map[string]int{"find": 1}},
			{name: "wait: the renewal waits for the lookup still pending, then runs", plate: "EX4KQ218",
				steps: func(t *testing.T, r *recRun) {
					r.renew(t)
					r.run(t, "record-renewal", 1, true) // the lookup may yet record the plate
					r.run(t, "find-vehicle", 1, false)
					r.run(t, "record-renewal", 2, false)
				},
				calls:   []string{"find-vehicle:ok:ok:1", "record-renewal:ok:ok:2"},
				records: renewed, renewals: 1, hits: map[string]int{"find": 1, "renewals": 1}},
			{name: "wait until the last attempt: failed for staff, never called", plate: "EX4KQ218",
				steps: func(t *testing.T, r *recRun) {
					r.renew(t)
					for a := 1; a < casework.PluginCallAttempts; a++ {
						r.run(t, "record-renewal", a, true)
					}
					r.run(t, "record-renewal", casework.PluginCallAttempts, false)
				},
				calls:   []string{"find-vehicle:pending::0", fmt.Sprintf("record-renewal:failed:waiting:%d", casework.PluginCallAttempts)},
				records: map[string]any{}, hits: map[string]int{}},
			{name: "wait ends when the lookup fails for good: skipped", plate: "EX4KQ218", handler: failing("EX4KQ218", http.StatusInternalServerError),
				steps: func(t *testing.T, r *recRun) {
					r.renew(t)
					r.run(t, "record-renewal", 1, true)
					r.run(t, "find-vehicle", casework.PluginCallAttempts, false)
					r.run(t, "record-renewal", 2, false)
				},
				calls:   []string{fmt.Sprintf("find-vehicle:failed:error:%d", casework.PluginCallAttempts), "record-renewal:ok:skipped:2"},
				records: map[string]any{}, hits: map[string]int{"find": 3}}, // the gateway's own retries of an idempotent lookup
			{name: "plug-in erroring (5xx): retried by the job, nothing recorded until it answers", plate: "EX4KQ218",
				handler: func(real http.Handler) http.Handler {
					var n atomic.Int64
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasSuffix(r.URL.Path, "/renewals") && n.Add(1) == 1 {
							http.Error(w, "down", http.StatusServiceUnavailable)
							return
						}
						real.ServeHTTP(w, r)
					})
				},
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, false)
					r.renew(t)
					r.run(t, "record-renewal", 1, true)
					if got := r.f.recordsOf(t, r.c.ID); got["expires"] != nil || got["vin"] == nil {
						t.Fatalf("after a failed renewal the records changed: %v", got)
					}
					r.run(t, "record-renewal", 2, false)
				},
				calls:   []string{"find-vehicle:ok:ok:1", "record-renewal:ok:ok:2"},
				records: renewed, renewals: 1, hits: map[string]int{"find": 1, "renewals": 2}},
			{name: "plug-in erroring (5xx) to the last attempt: failed, records untouched", plate: "EX4KQ218",
				handler: failing("/renewals", http.StatusInternalServerError),
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, false)
					r.renew(t)
					r.run(t, "record-renewal", casework.PluginCallAttempts, false)
				},
				calls:   []string{"find-vehicle:ok:ok:1", fmt.Sprintf("record-renewal:failed:error:%d", casework.PluginCallAttempts)},
				records: found, hits: map[string]int{"find": 1, "renewals": 1}},
			{name: "invalid response: a failure, nothing recorded", plate: "EX4KQ218",
				handler: func(real http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "application/json")
						_, _ = io.WriteString(w, `{"plate":"EX4KQ218","vin":"short","year":2018,"color":"Blue"}`)
					})
				},
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, true)
					r.run(t, "find-vehicle", casework.PluginCallAttempts, false)
				},
				calls:   []string{fmt.Sprintf("find-vehicle:failed:invalid_response:%d", casework.PluginCallAttempts)},
				records: map[string]any{}, hits: map[string]int{"find": 2}},
			{name: "timeout: retried, recorded from the answer that came in time", plate: "EX4KQ218",
				handler: func(real http.Handler) http.Handler {
					var n atomic.Int64
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if n.Add(1) == 1 {
							select { // slower than the lookup's 500ms timeout
							case <-time.After(2 * time.Second):
							case <-r.Context().Done():
							}
						}
						real.ServeHTTP(w, r)
					})
				},
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, false) // the gateway retries an idempotent lookup itself
				},
				calls:   []string{"find-vehicle:ok:ok:1"},
				records: found, hits: map[string]int{"find": 2}},
			{name: "timeout of a non-idempotent call: retried by the job with the same key, applied once", plate: "EX4KQ218",
				handler: func(real http.Handler) http.Handler {
					var n atomic.Int64
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasSuffix(r.URL.Path, "/renewals") && n.Add(1) == 1 {
							real.ServeHTTP(discard{h: http.Header{}}, r) // applied; the answer is too late
							select {
							case <-time.After(2 * time.Second):
							case <-r.Context().Done():
							}
							return
						}
						real.ServeHTTP(w, r)
					})
				},
				steps: func(t *testing.T, r *recRun) {
					r.run(t, "find-vehicle", 1, false)
					r.renew(t)
					r.run(t, "record-renewal", 1, true)
					if o := r.f.callsOf(t, r.c.ID); o[1] != "record-renewal:pending:timeout:1" {
						t.Fatalf("after the timeout: %v", o)
					}
					r.run(t, "record-renewal", 2, false)
					var keys []string
					for _, q := range r.f.requests() {
						if strings.HasSuffix(q.Path, "/renewals") {
							keys = append(keys, q.Key)
						}
					}
					if len(keys) != 2 || keys[0] != keys[1] || keys[0] == "" {
						t.Fatalf("renewal keys %q", keys)
					}
				},
				calls:   []string{"find-vehicle:ok:ok:1", "record-renewal:ok:ok:2"},
				records: renewed, renewals: 1, hits: map[string]int{"find": 1, "renewals": 2}},
			{name: "two runs of one call at once record it once", plate: "EX4KQ218",
				steps: func(t *testing.T, r *recRun) {
					var wg sync.WaitGroup
					errs := make([]error, 2)
					for i := range errs {
						wg.Add(1)
						go func() {
							defer wg.Done()
							errs[i] = r.f.cw.RunPluginCall(r.f.ctx, r.args(t, "find-vehicle"), 1, casework.PluginCallAttempts)
						}()
					}
					wg.Wait()
					for _, err := range errs {
						if err != nil {
							t.Fatal(err)
						}
					}
				},
				calls: []string{"find-vehicle:ok:ok:1"}, records: found},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f.reset(t, gateway.Config{Backoff: time.Millisecond, BreakerFailures: 1000}, c.handler)
				id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 100+i)
				r := &recRun{f: f, c: f.submit(id, c.plate, "car")}
				c.steps(t, r)
				if got := f.callsOf(t, r.c.ID); !slices.Equal(got, c.calls) {
					t.Fatalf("calls\n got %v\nwant %v", got, c.calls)
				}
				if got := f.recordsOf(t, r.c.ID); fmt.Sprint(got) != fmt.Sprint(c.records) {
					t.Fatalf("records\n got %v\nwant %v", got, c.records)
				}
				if n := f.renewals(); n != c.renewals {
					t.Fatalf("%d renewals applied, want %d", n, c.renewals)
				}
				if c.hits != nil {
					got := map[string]int{}
					for _, q := range f.requests() {
						if strings.HasSuffix(q.Path, "/renewals") {
							got["renewals"]++
						} else {
							got["find"]++
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(c.hits) {
						t.Fatalf("plug-in requests %v, want %v", got, c.hits)
					}
				}
				once := f.finishedOnce(t, r.c.ID)
				// Every job of the case run again, at its first and its last
				// attempt: nothing more is recorded, and nothing is called.
				hits := len(f.requests())
				for _, op := range []string{"find-vehicle", "record-renewal"} {
					var n int
					if err := f.db.Read().QueryRowContext(f.ctx, `SELECT COUNT(*) FROM case_plugin_calls WHERE case_id = $1 AND operation = $2 AND status <> 'pending'`, r.c.ID, op).Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n == 1 {
						r.run(t, op, 1, false)
						r.run(t, op, casework.PluginCallAttempts, false)
					}
				}
				if again := f.finishedOnce(t, r.c.ID); again != once {
					t.Fatalf("running the jobs again recorded more: %s, then %s", once, again)
				}
				if len(f.requests()) != hits {
					t.Fatalf("running finished jobs again called the plug-in")
				}
			})
		}
	})
}

// callsOf lists case id's plug-in calls as "operation:status:last
// outcome:attempts", oldest first.
func (f *flowEnv) callsOf(t *testing.T, id string) []string {
	t.Helper()
	calls, err := f.cw.PluginCalls(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, c := range calls {
		out = append(out, fmt.Sprintf("%s:%s:%s:%d", c.Operation, c.Status, c.LastOutcome, c.Attempts))
	}
	return out
}

func (f *flowEnv) recordsOf(t *testing.T, id string) map[string]any {
	t.Helper()
	got, err := f.cw.Records(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := got["expires"].(string); ok {
		if _, err := time.Parse(time.DateOnly, d); err == nil {
			got["expires"] = "<date>"
		}
	}
	return got
}

// finishedOnce checks that each finished call of case id has exactly one
// finishing timeline entry, audit record and plugin_called event, and
// returns a summary to compare after more runs.
func (f *flowEnv) finishedOnce(t *testing.T, id string) string {
	t.Helper()
	finished := f.count(`SELECT COUNT(*) FROM case_plugin_calls WHERE case_id = $1 AND status <> 'pending'`, id)
	entries := 0
	es, err := f.cw.Timeline(f.ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action() == "call_plugin" && e.Str("outcome") != "queued" {
			entries++
		}
	}
	audits := f.count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'case.plugin_call' AND subject = $1`, "case:"+id)
	evs := 0
	for _, e := range f.emitted(id) {
		if e == "plugin_called" {
			evs++
		}
	}
	if entries != finished || audits != finished || evs != finished {
		t.Fatalf("%d finished calls: %d timeline entries, %d audit records, %d events", finished, entries, audits, evs)
	}
	var recorded int
	if err := f.db.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM case_records WHERE case_id = $1`, id).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d calls, %d records, %d timeline entries", finished, recorded, len(es))
}
