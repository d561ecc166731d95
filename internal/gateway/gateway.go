// Package gateway is how Portico calls a plug-in (ADR 32): it checks the
// caller's access with the plug-in registry, mints a short-lived token
// signed with Portico's OpenID Provider keys, calls the plug-in's
// operation with a timeout, retries (idempotent operations only), a
// circuit breaker and a concurrency limit per plug-in, validates the
// response against the plug-in's OpenAPI document, and audits every
// exchange in the hash-chained audit log with hashes of the bodies, never
// the bodies themselves.
//
// An answer that is not usable (timeout, error, invalid response, open
// circuit) is a platform.CodeUnavailable *Error; pages turn it into the
// translated message gateway.unavailable with the providing agency's name.
// The gateway owns no table.
package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
)

// Registry is what the gateway needs of the plug-in registry.
type Registry interface {
	Allowed(ctx context.Context, agency, service, pluginID, operation string, data []string) error
	Get(ctx context.Context, actor platform.Actor, id string) (*plugin.Plugin, error)
}

// Consents is what the gateway needs of the consent block
// (*consent.Service): whether an active consent of the person covers the
// data a call carries to a plug-in for an agency's service.
type Consents interface {
	Covers(ctx context.Context, accountID, agency, service, plugin string, data []string) (bool, error)
}

// Signer signs tokens with the OpenID Provider's keys (*oidc.Service).
type Signer interface {
	Issuer() string
	SignJWT(ctx context.Context, claims any) (string, error)
}

// Config tunes the gateway; zero values take the defaults.
type Config struct {
	// MaxConcurrent is how many calls to one plug-in may be in flight
	// from this process (default 16). A call waits for a slot at most
	// the operation's timeout.
	MaxConcurrent int64
	// Retries is how many times an idempotent operation is tried again
	// after a timeout, a transport error or a 5xx (default 2).
	Retries int
	// Backoff is the wait before the first retry; it doubles (default 100ms).
	Backoff time.Duration
	// BreakerFailures consecutive failures open a plug-in's circuit
	// (default 5); it stays open BreakerOpen (default 30s), then lets one
	// call through (half-open).
	BreakerFailures uint32
	BreakerOpen     time.Duration
	// TokenTTL is the lifetime of a call token (default 2 min, at most 5).
	TokenTTL time.Duration
	// CacheTTL is how long a plug-in's registration and parsed OpenAPI
	// document are kept between calls (default 30s).
	CacheTTL time.Duration
	// MaxResponse bounds a response body (default 1 MiB).
	MaxResponse int64
	// Client is the HTTP client (default: a new client without timeout,
	// keeping MaxConcurrent idle connections per plug-in; the operation's
	// timeout applies per attempt).
	Client *http.Client
	// Consents decides whether a call for a person (Request.Person) that
	// carries personal data (Request.Data) is covered by the person's
	// consent; one that is not is refused (reason no_consent) before any
	// HTTP call. nil refuses every such call (fail closed); calls for no
	// person, or carrying no data, are not asked about.
	Consents Consents
	// Tracer, when set, runs every call in a client span (tracing.go)
	// and sends its W3C traceparent to the plug-in. Nil: no spans.
	Tracer trace.Tracer
}

func (c *Config) defaults() {
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 16
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 2
	}
	if c.Backoff <= 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerOpen <= 0 {
		c.BreakerOpen = 30 * time.Second
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 2 * time.Minute
	}
	c.TokenTTL = min(c.TokenTTL, MaxTokenTTL)
	if c.CacheTTL <= 0 {
		c.CacheTTL = 30 * time.Second
	}
	if c.MaxResponse <= 0 {
		c.MaxResponse = 1 << 20
	}
	if c.Client == nil {
		// Keep as many idle connections to a plug-in as calls may be in
		// flight to it: http.DefaultTransport keeps 2 per host, so under
		// concurrency most calls would dial a new TCP connection and
		// close it afterwards.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = int(c.MaxConcurrent)
		tr.MaxIdleConns = max(tr.MaxIdleConns, 4*int(c.MaxConcurrent))
		c.Client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
}

// MaxTokenTTL is the longest a call token lives.
const MaxTokenTTL = 5 * time.Minute

// NoRetries in Config.Retries turns retries off.
const NoRetries = -1

// Request is one call: who it is for and what it carries.
type Request struct {
	Agency    string // the calling agency
	Service   string // the calling service
	Case      string // the case, if any
	Person    string // the person's account id, if any (a pairwise sub is sent, never this)
	Plugin    string
	Operation string // the manifest's operation id
	// Path fills the operation path's {parameters}; Query is appended.
	Path  map[string]string
	Query url.Values
	// Body is the JSON request body, if any.
	Body []byte
	// Data are the personal data to carry, by their names in the plug-in
	// data vocabulary (name, date_of_birth, address, email, phone,
	// answers:SERVICE) with their values. Only these are in the token.
	Data map[string]any
	// IdempotencyKey, when set, is sent as the Idempotency-Key header on
	// every attempt. A caller that may repeat a call (a workflow's job
	// retried after a failure it cannot see the end of) gives the same
	// key each time, so a plug-in that honours it (docs/plugins.md)
	// applies a non-idempotent operation once.
	IdempotencyKey string
}

// Response is a plug-in's answer, validated against its OpenAPI document.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	Attempts    int
	Duration    time.Duration
}

// Outcomes of an exchange, as audited and counted.
const (
	OutcomeOK          = "ok"
	OutcomeRefused     = "refused"
	OutcomeTimeout     = "timeout"
	OutcomeError       = "error"
	OutcomeInvalid     = "invalid_response"
	OutcomeCircuitOpen = "circuit_open"
)

// Error is a call that did not give a usable answer. It carries
// platform.CodeUnavailable; Agency is the plug-in's providing agency (or
// "" for a private provider), for the citizen's message.
type Error struct {
	Outcome string
	Plugin  string
	Agency  string
	err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("plug-in %s: %s: %v", e.Plugin, e.Outcome, e.err)
}

// Unwrap gives the platform error (CodeUnavailable).
func (e *Error) Unwrap() error { return e.err }

// MessageKey is the i18n key pages show for err (with the agency's name
// as its argument), or "" when err is not an unavailable plug-in.
func MessageKey(err error) string {
	var ge *Error
	if errors.As(err, &ge) {
		return "gateway.unavailable"
	}
	return ""
}

// Gateway calls plug-ins.
type Gateway struct {
	reg     Registry
	signer  Signer
	log     *audit.Log
	box     *secrets.Box
	clock   platform.Clock
	cfg     Config
	metrics *Metrics

	mu      sync.Mutex
	plugins map[string]*target
}

// target is the per-plug-in state: the cached registration, its
// validator, its breaker and its concurrency limit.
type target struct {
	mu       sync.Mutex
	p        *plugin.Plugin
	val      *validator
	loadedAt time.Time

	breaker *gobreaker.CircuitBreaker[*attempt]
	slots   *semaphore.Weighted
	pairKey []byte // pairwiseKey of the plug-in: the box's keys do not change in a process
}

// New returns the gateway.
func New(reg Registry, signer Signer, log *audit.Log, box *secrets.Box, clock platform.Clock, metrics *Metrics, cfg Config) (*Gateway, error) {
	if err := platform.Required("gateway", platform.Dep{Name: "plug-in registry", Missing: reg == nil},
		platform.Dep{Name: "token signer", Missing: signer == nil}, platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "secrets box", Missing: box == nil}, platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	cfg.defaults()
	if metrics == nil {
		metrics = NewMetrics()
	}
	return &Gateway{reg: reg, signer: signer, log: log, box: box, clock: clock, cfg: cfg, metrics: metrics, plugins: map[string]*target{}}, nil
}

var system = platform.Actor{Kind: platform.ActorSystem, ID: "gateway"}

func (g *Gateway) target(id string) *target {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.plugins[id]
	if t == nil {
		t = &target{slots: semaphore.NewWeighted(g.cfg.MaxConcurrent), pairKey: pairwiseKey(g.box, id)}
		failures := g.cfg.BreakerFailures
		t.breaker = gobreaker.NewCircuitBreaker[*attempt](gobreaker.Settings{
			Name:        id,
			MaxRequests: 1,
			Timeout:     g.cfg.BreakerOpen,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			IsSuccessful: func(err error) bool {
				return err == nil
			},
			OnStateChange: func(name string, from, to gobreaker.State) {
				slog.Warn("gateway: circuit changed", "plugin", name, "from", from.String(), "to", to.String())
				g.metrics.breaker.WithLabelValues(name).Set(float64(to))
			},
		})
		g.plugins[id] = t
	}
	return t
}

// load returns the plug-in's registration and validator, cached CacheTTL.
func (g *Gateway) load(ctx context.Context, t *target, id string) (*plugin.Plugin, *validator, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := g.clock.Now()
	if t.p != nil && now.Sub(t.loadedAt) < g.cfg.CacheTTL && !now.Before(t.loadedAt) {
		return t.p, t.val, nil
	}
	p, err := g.reg.Get(platform.WithActor(ctx, system), system, id)
	if err != nil {
		return nil, nil, err
	}
	if t.val == nil || t.p == nil || t.p.OpenAPISHA256 != p.OpenAPISHA256 {
		v, err := newValidator(p.OpenAPI, int(g.cfg.MaxConcurrent))
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: the OpenAPI document of %s: %w", id, err)
		}
		t.val = v
	}
	t.p, t.loadedAt = p, now
	return t.p, t.val, nil
}

// claimNames maps the plug-in data vocabulary to OpenID Connect claims.
var claimNames = map[string]string{
	plugin.DataName: "name", plugin.DataDateOfBirth: "birthdate", plugin.DataAddress: "address",
	plugin.DataEmail: "email", plugin.DataPhone: "phone_number",
}

// Call calls req.Operation of req.Plugin for actor. See the package comment.
func (g *Gateway) Call(ctx context.Context, actor platform.Actor, req Request) (Response, error) {
	ctx = platform.WithActor(ctx, actor)
	start := time.Now()
	if g.cfg.Tracer != nil {
		var span trace.Span
		ctx, span = g.startSpan(ctx, req)
		defer span.End()
	}
	if req.Plugin == "" || req.Operation == "" || req.Agency == "" || req.Service == "" {
		return Response{}, platform.Errorf(platform.CodeInvalid, "a plug-in call names the agency, the service, the plug-in and the operation")
	}
	if !validIdempotencyKey(req.IdempotencyKey) {
		return Response{}, platform.Invalid("idempotency_key", "an idempotency key is 1 to 255 printable ASCII characters")
	}
	for d := range req.Data {
		if !plugin.ValidDatum(d) {
			return Response{}, platform.Invalid("data", fmt.Sprintf("%q is not in the plug-in data vocabulary", d))
		}
	}
	data := slices.Sorted(maps.Keys(req.Data))
	if err := g.reg.Allowed(ctx, req.Agency, req.Service, req.Plugin, req.Operation, data); err != nil {
		if platform.ErrorCode(err) == platform.CodeForbidden {
			g.metrics.observe(req.Plugin, req.Operation, OutcomeRefused, time.Since(start))
			g.traceOutcome(ctx, OutcomeRefused, 0, 0)
		}
		return Response{}, err // the registry audited the refusal
	}
	if req.Person != "" && len(data) > 0 {
		if err := g.consented(ctx, req, data); err != nil {
			if platform.ErrorCode(err) == platform.CodeForbidden {
				g.metrics.observe(req.Plugin, req.Operation, OutcomeRefused, time.Since(start))
				g.traceOutcome(ctx, OutcomeRefused, 0, 0)
			}
			return Response{}, err
		}
	}
	t := g.target(req.Plugin)
	p, val, err := g.load(ctx, t, req.Plugin)
	if err != nil {
		return Response{}, err
	}
	op, ok := p.Manifest.Operation(req.Operation)
	if !ok { // Allowed checked it; a re-registration may race
		return Response{}, platform.Errorf(platform.CodeForbidden, "plug-in %s has no operation %q", p.ID, req.Operation)
	}
	path, err := fillPath(op.Path, req.Path)
	if err != nil {
		return Response{}, err
	}
	target := strings.TrimRight(p.BaseURL, "/") + path
	if len(req.Query) > 0 {
		target += "?" + req.Query.Encode()
	}
	token, err := g.token(ctx, t, p, req, data)
	if err != nil {
		return Response{}, err
	}

	// The call takes its response validator before its first attempt, so
	// building one (when every idle one is in use) is never done while
	// holding one of the plug-in's concurrency slots or inside an
	// attempt's timeout.
	v, err := val.take()
	if err != nil {
		return Response{}, fmt.Errorf("gateway: the OpenAPI document of %s: %w", p.ID, err)
	}
	ex := &exchange{g: g, t: t, p: p, op: op, val: v, url: target, path: path, token: token, req: req}
	resp, outcome, callErr := ex.run(ctx)
	val.give(v)
	dur := time.Since(start)
	resp.Duration = dur
	g.metrics.observe(p.ID, op.ID, outcome, dur)
	g.traceOutcome(ctx, outcome, ex.attempts, ex.status)

	detail := callDetail{Service: req.Service, Operation: op.ID, Outcome: outcome, DurationMS: dur.Milliseconds(),
		Attempts: ex.attempts, RequestSHA256: sum(req.Body), Data: data, Case: req.Case, Person: req.Person, Status: ex.status}
	if ex.body != nil {
		detail.ResponseSHA256 = sum(ex.body)
	}
	if _, err := g.log.Write(ctx, audit.Record{Action: "plugin.call", Subject: "plugin:" + p.ID, AgencyID: req.Agency, Person: req.Person, Detail: detail}); err != nil {
		return Response{}, fmt.Errorf("gateway: audit: %w", err)
	}
	if callErr != nil {
		return Response{}, callErr
	}
	return resp, nil
}

// callDetail is a plugin.call audit entry's detail. Its fields are in
// the order of their JSON names and the optional ones are omitted when
// empty, so it encodes to the bytes the map[string]any it replaced did
// (encoding/json sorts a map's keys): entries written before and after
// read alike. A struct is encoded without sorting keys or boxing values.
// The hashes are never empty (a SHA-256 in hex), so response_sha256 is
// present exactly when the plug-in sent a body; status when it answered.
type callDetail struct {
	Attempts       int      `json:"attempts"`
	Case           string   `json:"case,omitempty"`
	Data           []string `json:"data"`
	DurationMS     int64    `json:"duration_ms"`
	Operation      string   `json:"operation"`
	Outcome        string   `json:"outcome"`
	Person         string   `json:"person,omitempty"`
	RequestSHA256  string   `json:"request_sha256"`
	ResponseSHA256 string   `json:"response_sha256,omitempty"`
	Service        string   `json:"service"`
	Status         int      `json:"status,omitempty"`
}

// validIdempotencyKey reports whether k ("" for none) can travel as the
// Idempotency-Key header: at most 255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// ReasonNoConsent is the reason audited when a call for a person carries
// data their consent does not cover.
const ReasonNoConsent = "no_consent"

// consented refuses (CodeForbidden, audited as plugin.refuse with reason
// no_consent and the person) a call for req.Person carrying data that no
// active consent of theirs covers.
func (g *Gateway) consented(ctx context.Context, req Request, data []string) error {
	ok := false
	if g.cfg.Consents != nil {
		var err error
		if ok, err = g.cfg.Consents.Covers(ctx, req.Person, req.Agency, req.Service, req.Plugin, data); err != nil {
			return fmt.Errorf("gateway: consent: %w", err)
		}
	}
	if ok {
		return nil
	}
	detail := map[string]any{"service": req.Service, "operation": req.Operation, "data": data, "reason": ReasonNoConsent,
		"outcome": OutcomeRefused, "person": req.Person}
	if req.Case != "" {
		detail["case"] = req.Case
	}
	if _, err := g.log.Write(ctx, audit.Record{Action: "plugin.refuse", Subject: "plugin:" + req.Plugin, AgencyID: req.Agency, Person: req.Person, Detail: detail}); err != nil {
		return fmt.Errorf("gateway: audit: %w", err)
	}
	return &ConsentError{Plugin: req.Plugin, err: platform.Errorf(platform.CodeForbidden, "%s has not consented to share %s with plug-in %s for %s",
		req.Person, strings.Join(data, ", "), req.Plugin, req.Service)}
}

// ConsentError is a call refused because the person's consent does not
// cover the data (platform.CodeForbidden). A page asks the person for
// their consent (/consent) or has them type the data themselves.
type ConsentError struct {
	Plugin string
	err    error
}

func (e *ConsentError) Error() string { return e.err.Error() }

// Unwrap gives the platform error (CodeForbidden).
func (e *ConsentError) Unwrap() error { return e.err }

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fillPath puts the escaped path parameters into the operation's path.
func fillPath(tmpl string, params map[string]string) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("gateway: path %q has an unclosed {", tmpl)
		}
		name := rest[i+1 : i+j]
		v, ok := params[name]
		if !ok || v == "" {
			return "", platform.Invalid(name, fmt.Sprintf("the call needs the path parameter %q", name))
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(v))
		rest = rest[i+j+1:]
	}
}

// Subject is the pairwise subject of a person for a plug-in: an HMAC of
// the account id under a key derived, per plug-in, from the secrets box's
// MAC key. Stable for the plug-in, different across plug-ins, and it does
// not reveal the account id.
func (g *Gateway) Subject(pluginID, accountID string) string {
	return PairwiseSubject(g.box, pluginID, accountID)
}

// PairwiseSubject is Subject for code that has the secrets box but no
// gateway (the webhook deliverer and the consent events name the person with
// it, so a plug-in sees one subject for a person in calls and in events).
func PairwiseSubject(box *secrets.Box, pluginID, accountID string) string {
	return pairwise(pairwiseKey(box, pluginID), accountID)
}

// pairwiseKey is the plug-in's key of pairwise subjects.
func pairwiseKey(box *secrets.Box, pluginID string) []byte {
	return []byte(box.MAC("gateway-pairwise:" + pluginID))
}

func pairwise(key []byte, accountID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(accountID))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))
}

// subject is Subject for the target's plug-in, with its key derived once.
func (t *target) subject(accountID string) string {
	return pairwise(t.pairKey, accountID)
}

// callClaims are a call token's claims other than the data it carries
// (ADR 72: encoded once, as a struct, and signed as they are).
type callClaims struct {
	Iss     string `json:"iss"`
	Aud     string `json:"aud"`
	Sub     string `json:"sub"`
	Iat     int64  `json:"iat"`
	Nbf     int64  `json:"nbf"`
	Exp     int64  `json:"exp"`
	Jti     string `json:"jti"`
	Agency  string `json:"agency"`
	Service string `json:"service"`
	Case    string `json:"case,omitempty"`
}

// token mints the call's token: a fresh jti (128 random bits), issued
// now, living TokenTTL, for the plug-in alone (aud), naming the person by
// their pairwise subject (or the agency), carrying exactly the data named
// (data, sorted) under their OpenID Connect claim names and answers:SERVICE
// under answers. The claims are encoded here and handed to the signer as
// a json.RawMessage, which signs them as they are (ADR 72): encoding
// them as a map for go-jose to re-encode cost more than the rest of the
// token but the signature.
func (g *Gateway) token(ctx context.Context, t *target, p *plugin.Plugin, req Request, data []string) (string, error) {
	now := g.clock.Now()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	c := callClaims{Iss: g.signer.Issuer(), Aud: p.ID, Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(g.cfg.TokenTTL).Unix(),
		Jti: hex.EncodeToString(jti[:]), Agency: req.Agency, Service: req.Service, Case: req.Case}
	if req.Person != "" {
		c.Sub = t.subject(req.Person)
	} else {
		c.Sub = "agency:" + req.Agency
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("gateway: token: %w", err)
	}
	var answers map[string]any
	for _, d := range data {
		name, ok := claimNames[d]
		if !ok {
			if answers == nil {
				answers = map[string]any{}
			}
			svc, _ := strings.CutPrefix(d, plugin.DataAnswers)
			answers[svc] = req.Data[d]
			continue
		}
		if b, err = appendClaim(b, name, req.Data[d]); err != nil {
			return "", err
		}
	}
	if answers != nil {
		if b, err = appendClaim(b, "answers", answers); err != nil {
			return "", err
		}
	}
	return g.signer.SignJWT(ctx, json.RawMessage(b))
}

// appendClaim adds "name":value to the JSON object obj (which ends in
// '}'). name is one of the claim names above, which need no escaping and
// are none of callClaims's.
func appendClaim(obj []byte, name string, value any) ([]byte, error) {
	v, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("gateway: token: claim %s: %w", name, err)
	}
	obj = append(obj[:len(obj)-1], ',', '"')
	obj = append(obj, name...)
	obj = append(obj, '"', ':')
	obj = append(obj, v...)
	return append(obj, '}'), nil
}

// attempt is one HTTP exchange's result.
type attempt struct {
	status      int
	contentType string
	body        []byte
}

// exchange is one call with its attempts.
type exchange struct {
	g     *Gateway
	t     *target
	p     *plugin.Plugin
	op    plugin.Operation
	val   *checker // this call's alone (validator.take)
	url   string
	path  string
	token string
	req   Request

	attempts int
	status   int
	body     []byte
}

// errors an attempt can end with, for the breaker and the outcome.
var (
	errTimeout   = errors.New("timed out")
	errServer    = errors.New("server error")
	errTransport = errors.New("transport error")
	errInvalid   = errors.New("invalid response")
)

func (ex *exchange) fail(outcome string, cause error) (Response, string, error) {
	slog.Error("gateway: plug-in call failed", "plugin", ex.p.ID, "operation", ex.op.ID, "outcome", outcome, "attempts", ex.attempts, "err", cause)
	return Response{Attempts: ex.attempts}, outcome, &Error{Outcome: outcome, Plugin: ex.p.ID, Agency: ex.p.Provider.Agency,
		err: platform.Errorf(platform.CodeUnavailable, "plug-in %s is not answering (%s)", ex.p.ID, outcome)}
}

func (ex *exchange) run(ctx context.Context) (Response, string, error) {
	g := ex.g
	timeout := ex.op.TimeoutDuration()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tries := 1
	if ex.op.Idempotent {
		tries += g.cfg.Retries
	}
	var last error
	for i := 0; i < tries; i++ {
		if i > 0 {
			wait := g.cfg.Backoff << (i - 1)
			wait += time.Duration(mrand.Int64N(int64(wait)/2 + 1))
			select {
			case <-ctx.Done():
				return ex.fail(OutcomeTimeout, ctx.Err())
			case <-time.After(wait):
			}
		}
		a, err := ex.once(ctx, timeout)
		switch {
		case err == nil:
			ex.status, ex.body = a.status, a.body
			return Response{Status: a.status, ContentType: a.contentType, Body: a.body, Attempts: ex.attempts}, OutcomeOK, nil
		case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
			return ex.fail(OutcomeCircuitOpen, err)
		case errors.Is(err, errInvalid):
			if a != nil {
				ex.status, ex.body = a.status, a.body
			}
			return ex.fail(OutcomeInvalid, err)
		}
		if a != nil {
			ex.status, ex.body = a.status, a.body
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	if errors.Is(last, errTimeout) {
		return ex.fail(OutcomeTimeout, last)
	}
	return ex.fail(OutcomeError, last)
}

// once is one attempt through the breaker and the concurrency limit.
func (ex *exchange) once(ctx context.Context, timeout time.Duration) (*attempt, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ex.t.slots.Acquire(actx, 1); err != nil {
		return nil, fmt.Errorf("%w: waiting for a free slot: %v", errTimeout, err)
	}
	defer ex.t.slots.Release(1)
	return ex.t.breaker.Execute(func() (*attempt, error) {
		ex.attempts++
		return ex.do(actx)
	})
}

func (ex *exchange) do(ctx context.Context) (*attempt, error) {
	var body io.Reader
	if ex.req.Body != nil {
		body = bytes.NewReader(ex.req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, ex.op.Method, ex.url, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errTransport, err)
	}
	hr.Header.Set("Authorization", "Bearer "+ex.token)
	hr.Header.Set("Accept", "application/json, application/problem+json")
	if ex.req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if ex.req.IdempotencyKey != "" {
		hr.Header.Set("Idempotency-Key", ex.req.IdempotencyKey)
	}
	traceContext.Inject(ctx, propagation.HeaderCarrier(hr.Header))
	res, err := ex.g.cfg.Client.Do(hr)
	if err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return nil, fmt.Errorf("%w: %v", errTimeout, err)
		}
		return nil, fmt.Errorf("%w: %v", errTransport, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, ex.g.cfg.MaxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: reading the body: %v", errTimeout, err)
		}
		return nil, fmt.Errorf("%w: reading the body: %v", errTransport, err)
	}
	a := &attempt{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), body: b}
	if int64(len(b)) > ex.g.cfg.MaxResponse {
		return a, fmt.Errorf("%w: the body is larger than %d bytes", errInvalid, ex.g.cfg.MaxResponse)
	}
	if res.StatusCode >= 500 {
		return a, fmt.Errorf("%w: status %d", errServer, res.StatusCode)
	}
	if err := checkWith(ex.val, ex.op.Method, ex.path, res, b); err != nil {
		return a, fmt.Errorf("%w: %v", errInvalid, err)
	}
	return a, nil
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
