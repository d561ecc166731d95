package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/portico-gov/portico/examples/plugins"
	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/demo"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/tenancy"
	"github.com/portico-gov/portico/internal/webhook"
)

const (
	typeTransitioned = "gov.portico.case.transitioned"
	typeOpened       = "gov.portico.case.opened"
	accountID        = "0190a1b2-0000-7000-8000-00000000a11c"
)

const (
	typeConsentGiven     = "gov.portico.consent.given"
	typeConsentWithdrawn = "gov.portico.consent.withdrawn"
)

var allTypes = []string{typeOpened, typeTransitioned, "gov.portico.case.document_issued", "gov.portico.case.closed", typeConsentGiven, typeConsentWithdrawn}

// received is one request the loopback receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a plug-in's webhook endpoint on loopback whose answers a
// test scripts: answer(n) gives the status (and headers) of the nth request.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter)
	ch     chan received
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{ch: make(chan received, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := received{Header: req.Header.Clone(), Body: body, At: time.Now()}
		r.mu.Lock()
		r.got = append(r.got, rec)
		n, answer := len(r.got), r.answer
		r.mu.Unlock()
		if answer != nil {
			answer(n, w)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		select {
		case r.ch <- rec:
		default:
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) script(f func(n int, w http.ResponseWriter)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = f
}

func (r *receiver) since(n int) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got[n:]...)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// rig is the webhook block over a real database with the example
// vehicle-registry plug-in registered (its webhook on the receiver) and
// enabled by the DMV, River working the queue and the dispatcher running.
type rig struct {
	db     *storage.DB
	log    *audit.Log
	reg    *plugin.Service
	box    *secrets.Box
	bus    *events.Bus
	svc    *webhook.Service
	recv   *receiver
	secret string
	disp   *events.Dispatcher
	client *jobs.Client
}

var system = platform.Actor{Kind: platform.ActorSystem, ID: "test"}

type rigOpts struct {
	maxAttempts int
	noStart     bool // build only (the crash child starts what it needs)
	seeded      bool // the database already has agencies and the plug-in
}

func newRig(t testing.TB, db *storage.DB, recv *receiver, o rigOpts) *rig {
	t.Helper()
	ctx := context.Background()
	clock := platform.SystemClock{}
	r := &rig{db: db, log: audit.New(db, clock, nil), recv: recv}
	var err error
	if r.box, err = secrets.New([]byte(strings.Repeat("k", 32))); err != nil {
		t.Fatal(err)
	}
	if r.reg, err = plugin.New(db, r.log, clock, r.box, plugin.Config{EventTypes: allTypes}); err != nil {
		t.Fatal(err)
	}
	if !o.seeded {
		ten, err := tenancy.New(db, r.log, clock)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := demo.Seed(ctx, ten); err != nil {
			t.Fatal(err)
		}
		r.secret = r.register(t, recv.srv.URL+"/portico/events")
		r.enable(t, "dmv")
	}
	r.bus = events.NewBus(clock)
	jcfg := jobs.Config{Work: true, FetchPollInterval: 100 * time.Millisecond}
	ins, err := jobs.NewInserter(db, jcfg)
	if err != nil {
		t.Fatal(err)
	}
	jreg := jobs.NewRegistry()
	if r.svc, err = webhook.New(db, r.log, clock, r.box, r.reg, r.bus, ins, jreg, nil, webhook.Config{
		EventTypes: allTypes, Timeout: 2 * time.Second, MaxAttempts: o.maxAttempts,
		Backoff: func(int) time.Duration { return 20 * time.Millisecond },
	}); err != nil {
		t.Fatal(err)
	}
	if r.client, err = jobs.New(db, jreg, jcfg); err != nil {
		t.Fatal(err)
	}
	if r.disp, err = events.NewDispatcher(db, r.bus, events.DispatchConfig{Poll: 20 * time.Millisecond, Lease: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if !o.noStart {
		r.start(t)
	}
	return r
}

func (r *rig) start(t testing.TB) {
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
}

// register registers the example vehicle-registry with its webhook at url
// and returns the webhook secret.
func (r *rig) register(t testing.TB, url string) string {
	t.Helper()
	src, err := fs.ReadFile(plugins.FS(), "vehicle-registry/plugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := strings.Replace(string(src), "webhook: http://127.0.0.1:8091/portico/events", "webhook: "+url, 1)
	// The consent events too, which go only to the plug-in they name.
	m = strings.Replace(m, "events:\n", "events:\n  - "+typeConsentGiven+"\n  - "+typeConsentWithdrawn+"\n", 1)
	ctx := platform.WithActor(context.Background(), system)
	reg, err := r.reg.Register(ctx, system, "vehicle-registry/plugin.yaml", []byte(m), plugin.FSLoader(plugins.FS(), "vehicle-registry"))
	if err != nil {
		t.Fatal(err)
	}
	return reg.WebhookSecret
}

func (r *rig) enable(t testing.TB, agency string) {
	t.Helper()
	ctx := platform.WithActor(context.Background(), system)
	if _, err := r.reg.Enable(ctx, system, plugin.EnableRequest{Plugin: "vehicle-registry", Agency: agency, Data: []string{"name"}}); err != nil {
		t.Fatal(err)
	}
}

// emit commits a case event as casework writes it (the whole case and
// the event's detail), with a state change beside it, and returns its id.
func (r *rig) emit(t testing.TB, typ, agency, caseID string) string {
	t.Helper()
	ctx := context.Background()
	id := ""
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = emitIn(ctx, tx, r.bus, typ, agency, caseID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func emitIn(ctx context.Context, tx *sql.Tx, bus *events.Bus, typ, agency, caseID string) (string, error) {
	c := fmt.Sprintf(`{"id":%q,"reference":"DMV-2026-000042","agency_id":%q,"service_id":"vehicle-registration-renewal","service_version":3,
		"account_id":%q,"state":"approved","state_entered_at":"2026-12-05T10:00:00Z","overdue":false,"waiting_on":"agency",
		"assignee":"0190a1b2-0000-7000-8000-00000000057a","opened_at":"2026-12-01T09:30:00Z","updated_at":"2026-12-05T10:00:00Z",
		"fee":{"amount":4500,"currency":"USD"}}`, caseID, agency, accountID)
	data := c
	if typ != typeOpened {
		data = `{"case":` + c + `,"detail":{"transition":"approve","from":"review","to":"approved","label":{"en":"Approve","es":"Aprobar"},"reference":"DMV-2026-000042","note":"secret staff note"}}`
	}
	id := newID()
	err := bus.Emit(ctx, tx, events.Event{ID: id, Source: "/portico/casework", Type: typ, Subject: "case:" + caseID, AgencyID: agency, Data: []byte(data)})
	return id, err
}

var idMu sync.Mutex
var idN int

func newID() string {
	idMu.Lock()
	defer idMu.Unlock()
	idN++
	return fmt.Sprintf("0190a1b2-0000-7000-8000-%012d", idN)
}

// wait polls cond until it holds or 30s pass.
func wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) delivery(t testing.TB, eventID string) (status string, attempts int, ok bool) {
	t.Helper()
	err := r.db.Read().QueryRowContext(context.Background(), `SELECT status, attempts FROM webhook_deliveries WHERE event_id = $1`, eventID).Scan(&status, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return status, attempts, true
}

func (r *rig) waitStatus(t testing.TB, eventID, want string) int {
	t.Helper()
	var attempts int
	wait(t, "delivery of "+eventID+" to be "+want, func() bool {
		st, n, _ := r.delivery(t, eventID)
		attempts = n
		return st == want
	})
	return attempts
}

func (r *rig) count(t testing.TB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := r.db.Read().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// verify is an independent Standard Webhooks verifier, written from the
// specification (not the library Portico signs with): HMAC-SHA256 over
// "id.timestamp.body" keyed with the base64-decoded secret after
// "whsec_", compared with each space-separated "v1,<base64>" signature,
// and a timestamp within tolerance of now.
func verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp: %w", err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp outside tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return errors.New("bad secret")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

// sign signs the spec's way with the Standard Webhooks library, as
// Portico does.
func sign(secret, id, ts string, body []byte) string {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		panic(err)
	}
	n, _ := strconv.ParseInt(ts, 10, 64)
	s, _ := wh.Sign(id, time.Unix(n, 0), body)
	return s
}
