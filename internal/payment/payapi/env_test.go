package payapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/portico-gov/portico/internal/payment/payapi"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

const publicURL = "https://portico.example.gov"

// psp is a payment service provider behind the Provider interface: it
// records what it was asked, refunds once per key and never more than a
// charge took. Registered as "sandbox" (test keys) and, when an env asks
// for it, "stripe" (live keys); the API must work the same with either.
type psp struct {
	name      string
	mu        sync.Mutex
	taken     map[string]int64
	refunded  map[string]int64
	byKey     map[string]payment.RefundOutcome
	cancelled []string
	captured  []string
}

func newPSP(name string) *psp {
	return &psp{name: name, taken: map[string]int64{}, refunded: map[string]int64{}, byKey: map[string]payment.RefundOutcome{}}
}

func (p *psp) Name() string { return p.name }
func (p *psp) Start(_ context.Context, c payment.Charge) (payment.Begun, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.taken["ch_"+c.Checkout] = c.Amount
	return payment.Begun{Ref: "ch_" + c.Checkout, NextURL: "https://psp.example/ch_" + c.Checkout}, nil
}
func (p *psp) Status(context.Context, string) (payment.Outcome, error) {
	return payment.Outcome{Status: payment.Started}, nil
}
func (p *psp) Capture(_ context.Context, ref string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.captured = append(p.captured, ref)
	return nil
}
func (p *psp) Cancel(_ context.Context, ref string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancelled = append(p.cancelled, ref)
	return nil
}
func (p *psp) Refund(_ context.Context, ref string, amount int64, _, key string) (payment.RefundOutcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.byKey[key]; ok {
		return o, nil
	}
	if p.refunded[ref]+amount > p.taken[ref] {
		return payment.RefundOutcome{}, fmt.Errorf("psp: refund of %d exceeds charge %s", amount, ref)
	}
	p.refunded[ref] += amount
	o := payment.RefundOutcome{Ref: "re_" + key, Status: payment.RefundSuccess}
	p.byKey[key] = o
	return o, nil
}

// env is the API on a real HTTP server over a fresh database, with keys
// for two agencies in both modes.
type env struct {
	t       *testing.T
	db      *storage.DB
	svc     *payment.Service
	keys    *payapi.Keys
	log     *audit.Log
	srv     *httptest.Server
	clock   *platform.FakeClock
	sandbox *psp
	key     map[string]string // name → key string
}

type envOpts struct {
	live      bool    // register a live provider ("stripe")
	rateLimit float64 // 0: the API's default (15/s)
}

var start = time.Date(2026, 12, 4, 15, 4, 5, 0, time.UTC)

func newEnv(t *testing.T, db *storage.DB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	clock := platform.NewFakeClock(start)
	log := audit.New(db, clock, nil)
	ins, err := jobs.NewInserter(db, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := payment.NewService(db, log, events.NewBus(clock), clock, payment.WithJobs(ins, jobs.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, svc: svc, log: log, clock: clock, sandbox: newPSP("sandbox"), key: map[string]string{}}
	svc.Register(e.sandbox)
	if o.live {
		svc.Register(newPSP("stripe"))
	}
	if e.keys, err = payapi.NewKeys(db, log, clock); err != nil {
		t.Fatal(err)
	}
	api, err := payapi.New(db, svc, e.keys, log, payapi.Config{PublicURL: func() string { return publicURL }, LiveProvider: "stripe", RateLimit: o.rateLimit, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range api.Routes() {
		mux.Handle(p, h)
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	op := platform.Actor{Kind: platform.ActorOperator, ID: "test"}
	for _, k := range []struct {
		name, agency string
		live         bool
	}{{"dmv", "dmv", false}, {"dmv-live", "dmv", true}, {"dmv-2", "dmv", false}, {"clerk", "adams-clerk", false}, {"revoked", "dmv", false}} {
		key, str, err := e.keys.Create(ctx, op, k.agency, k.name, k.live)
		if err != nil {
			t.Fatal(err)
		}
		e.key[k.name] = str
		if k.name == "revoked" {
			if err := e.keys.Revoke(ctx, op, k.agency, key.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// resp is an answer of the API.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with key (a name in e.key, or a literal "Bearer …"
// header value when it starts with "!"); body is a string sent as it is
// or a value sent as JSON; hdr adds headers ("Content-Type": "" removes it).
func (e *env) do(method, path, key string, body any, hdr ...string) resp {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(key, "!"):
		req.Header.Set("Authorization", key[1:])
	case key != "":
		req.Header.Set("Authorization", "Bearer "+e.key[key])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// good is a create body that succeeds.
func good() map[string]any {
	return map[string]any{"amount": 4500, "reference": "DMV-2026-000123", "description": "Vehicle registration renewal",
		"return_url": "https://dmv.example.gov/done", "email": "ana@example.com", "metadata": map[string]any{"case": "c1", "instalment": 2, "urgent": true}}
}

func with(edit func(m map[string]any)) map[string]any {
	m := good()
	edit(m)
	return m
}

// create makes a payment with key and returns its id and checkout id.
func (e *env) create(key string, body map[string]any) (id, checkout string) {
	e.t.Helper()
	r := e.do("POST", "/v1/payments", key, body)
	if r.status != 201 {
		e.t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id = r.body["payment_id"].(string)
	p, err := e.svc.Get(context.Background(), agencyOf(key), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, p.Checkout
}

func agencyOf(key string) string {
	if key == "clerk" {
		return "adams-clerk"
	}
	return "dmv"
}

// settle moves checkout as its provider reports (begun first, as the
// checkout page does).
func (e *env) settle(checkout string, outcomes ...payment.Outcome) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.svc.Begin(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "test"}, checkout, publicURL+"/pay/checkouts/"+checkout+"/return", "test"); err != nil {
		e.t.Fatal(err)
	}
	for _, o := range outcomes {
		if _, err := e.svc.Settle(ctx, platform.Actor{Kind: platform.ActorSystem, ID: "test"}, checkout, o); err != nil {
			e.t.Fatal(err)
		}
	}
}

func errorOf(r resp) string {
	code, _ := r.body["code"].(string)
	where, _ := r.body["field"].(string)
	if h, ok := r.body["header"].(string); ok {
		where = "header:" + h
	}
	return fmt.Sprintf("%d %s %s", r.status, code, where)
}

var platformOperator = platform.Actor{Kind: platform.ActorOperator, ID: "test"}
