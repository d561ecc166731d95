// Package payapi is the payment block's GOV.UK Pay-compatible REST API
// (/v1/payments): agency systems create and follow payments, cancel and
// capture them, refund them and search them with the request and response
// shapes, states, error codes and status codes of GOV.UK Pay's public API
// (docs/payments.md, "API for agency systems"). Each agency's API keys
// (test and live) authenticate it; Idempotency-Key makes a retried create
// one payment; creates are rate limited per key.
package payapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/payresource"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/ratelimit"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/web"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered (Pay's
// 24 hours).
const IdempotencyWindow = 24 * time.Hour

// MaxDisplaySize is the largest page of a search (Pay's 500).
const MaxDisplaySize = 500

// maxBody bounds a request body: a payment with the largest fields and
// metadata is a few kilobytes.
const maxBody = 64 << 10

// Config tunes the API.
type Config struct {
	// PublicURL returns Portico's public address: links and next_url start
	// with it. "" uses the request's scheme and Host.
	PublicURL func() string
	// LiveProvider names the provider live keys' payments use ("stripe");
	// "" means none is configured, and live payments are refused. Test
	// keys always use the sandbox.
	LiveProvider string
	// RateLimit is how many creates per second one key may make (Pay's
	// 15). 0 means 15; negative, no limit.
	RateLimit float64
	Clock     platform.Clock
	Logger    *slog.Logger
}

// API serves /v1/payments.
type API struct {
	db       *storage.DB
	payments *payment.Service
	keys     *Keys
	audit    *audit.Log
	cfg      Config
	logger   *slog.Logger
	// limit counts creates per key and second in the database, so every
	// replica draws on one budget (ADR 58).
	limit *ratelimit.Limiter
}

// New returns the API. Every argument is required.
func New(db *storage.DB, payments *payment.Service, keys *Keys, log *audit.Log, cfg Config) (*API, error) {
	if err := platform.Required("payapi",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "payments", Missing: payments == nil},
		platform.Dep{Name: "keys", Missing: keys == nil},
		platform.Dep{Name: "audit log", Missing: log == nil}); err != nil {
		return nil, err
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 15
	}
	if cfg.Clock == nil {
		cfg.Clock = platform.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	return &API{db: db, payments: payments, keys: keys, audit: log, cfg: cfg, logger: cfg.Logger,
		limit: ratelimit.New(db, "pay-create", createsPerWindow(cfg.RateLimit), time.Second, 1)}, nil
}

// SecurePath is payresource.SecurePath: where next_url_post sends the payer.
const SecurePath = payresource.SecurePath

// Register adds the API's routes to s, and POST SecurePath, which the
// payer's browser sends from the agency's site: it is exempt from the
// shell's cross-origin check because it acts on nobody's session (it
// only redirects to the checkout page the token names, the page next_url
// gives, which decides who may use it).
func Register(s *web.Server, a *API) {
	for pattern, h := range a.Routes() {
		s.Handle(pattern, h)
	}
	s.Handle("POST "+SecurePath, http.HandlerFunc(Secure))
	s.AllowCrossOrigin("POST " + SecurePath)
}

// Secure answers next_url_post: 303 to the checkout page of the form's
// chargeTokenId (the checkout's id). A missing or malformed token is 400:
// there is nothing to continue.
func Secure(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("chargeTokenId")
	if !payment.ValidID(token) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "This payment link is not complete. Go back to the service you were using and start the payment again.\n"+
			"Este enlace de pago no está completo. Vuelva al servicio que estaba usando y empiece el pago de nuevo.\n")
		return
	}
	http.Redirect(w, r, "/pay/checkouts/"+token, http.StatusSeeOther)
}

// Routes returns the API's handlers by pattern.
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"POST /v1/payments":                        a.auth(a.create),
		"GET /v1/payments":                         a.auth(a.search),
		"GET /v1/payments/{id}":                    a.auth(a.get),
		"GET /v1/payments/{id}/events":             a.auth(a.events),
		"POST /v1/payments/{id}/cancel":            a.auth(a.cancel),
		"POST /v1/payments/{id}/capture":           a.auth(a.capture),
		"POST /v1/payments/{id}/refunds":           a.auth(a.createRefund),
		"GET /v1/payments/{id}/refunds":            a.auth(a.refunds),
		"GET /v1/payments/{id}/refunds/{refundId}": a.auth(a.refund),
	}
}

// call is one authenticated request.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	key   Key
	actor platform.Actor
	base  string // public URL, no trailing slash
}

func (a *API) auth(h func(c *call) *payError) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token, ok = strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
		}
		var key Key
		err := errNoKey
		if ok && token != "" {
			key, err = a.keys.Authenticate(r.Context(), strings.TrimSpace(token))
		}
		if err != nil {
			if !errors.Is(err, errNoKey) {
				a.fail(w, r, errDownstream("P0198", err))
				return
			}
			// Pay answers an unknown or missing key with 401 and no
			// error code of its own.
			w.Header().Set("WWW-Authenticate", `Bearer realm="payments"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"description": "Credentials are required to access this resource."})
			return
		}
		actor := platform.Actor{Kind: platform.ActorClient, ID: "payment-key:" + key.ID}
		r = r.WithContext(platform.WithActor(r.Context(), actor))
		c := &call{w: w, r: r, key: key, actor: actor, base: a.base(r)}
		if perr := h(c); perr != nil {
			a.fail(w, r, perr)
		}
	})
}

func (a *API) base(r *http.Request) string {
	if u := strings.TrimRight(a.cfg.PublicURL(), "/"); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, e *payError) {
	if e.status >= 500 && web.Status(e.cause) == http.StatusServiceUnavailable {
		// The database is out of reach for a while (PostgreSQL
		// restarting): nothing is wrong with the request, and the
		// agency's system may send it again — with its Idempotency-Key,
		// a create is not made twice.
		a.logger.WarnContext(r.Context(), "payments API: database unavailable: answered 503", "code", e.Code, "err", e.cause, "path", r.URL.Path)
		web.SetRetryAfter(w, e.cause)
		e.status = http.StatusServiceUnavailable
	} else if e.status >= 500 {
		a.logger.ErrorContext(r.Context(), "payments API", "code", e.Code, "err", e.cause, "path", r.URL.Path)
	}
	writeJSON(w, e.status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// createsPerWindow is the creates one key may make in a second: Pay's 15
// by default, at least 1 when limited, none counted when negative.
func createsPerWindow(perSecond float64) int {
	if perSecond < 0 {
		return 0
	}
	return max(int(perSecond), 1)
}

// allow takes one create from key's budget: at most RateLimit in each
// second, counted across every replica.
func (a *API) allow(ctx context.Context, keyID string) (bool, error) {
	return a.limit.Allow(ctx, keyID, a.cfg.Clock.Now())
}

func readBody(r *http.Request) ([]byte, *payError) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, "P0920", "Request blocked by security rules. Please consult API documentation for more information.")
		}
		return nil, errParse()
	}
	if len(b) > maxBody {
		return nil, newError(http.StatusRequestEntityTooLarge, "P0920", "Request blocked by security rules. Please consult API documentation for more information.")
	}
	return b, nil
}

// errIdempotencyRace rolls back a create that lost the race for its
// Idempotency-Key to another request.
var errIdempotencyRace = errors.New("payapi: idempotency key taken meanwhile")

func (a *API) create(c *call) *payError {
	allowed, lerr := a.allow(c.r.Context(), c.key.ID)
	if lerr != nil {
		return errDownstream("P0198", lerr)
	}
	if !allowed {
		return errRateLimit()
	}
	if perr := checkContentType(c.r); perr != nil {
		return perr
	}
	idem, perr := checkIdempotencyKey(c.r)
	if perr != nil {
		return perr
	}
	body, perr := readBody(c.r)
	if perr != nil {
		return perr
	}
	req, perr := parseCreate(body)
	if perr != nil {
		return perr
	}
	if req.Moto {
		return fieldError(http.StatusUnprocessableEntity, "P0102", "moto", "Invalid attribute value: moto. MOTO payments are not enabled for this account")
	}
	n := payment.New{Agency: c.key.Agency, Live: c.key.Live, Amount: req.Amount, Reference: req.Reference, Description: req.Description,
		ReturnURL: req.ReturnURL, Language: req.Language, Email: req.Email, Metadata: req.Metadata, DelayedCapture: req.DelayedCapture, Provider: "sandbox"}
	if c.key.Live {
		if a.cfg.LiveProvider == "" {
			return newError(http.StatusUnprocessableEntity, "P0199", "There is an error with this account: no live payment provider is configured, so live payments cannot be taken. Use a test key, or ask the platform's operators to configure one.")
		}
		if _, err := a.payments.Provider(a.cfg.LiveProvider); err != nil {
			return newError(http.StatusUnprocessableEntity, "P0199", "There is an error with this account: no live payment provider is configured, so live payments cannot be taken. Use a test key, or ask the platform's operators to configure one.")
		}
		n.Provider = a.cfg.LiveProvider
	}
	if _, err := payment.Validate(n); err != nil {
		return fromValidate(err)
	}
	ctx := c.r.Context()
	now := a.cfg.Clock.Now().UTC()
	if idem != "" {
		if done, perr := a.replay(c, idem, req.hash(), now); done || perr != nil {
			return perr
		}
	}
	var pid string
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		co, err := a.payments.OpenCheckout(ctx, tx, c.actor, payment.OpenCheckout{Payment: &n})
		if err != nil {
			return err
		}
		if idem != "" {
			// A record older than the window is forgotten: the key may be
			// used again.
			if _, err := tx.ExecContext(ctx, `DELETE FROM payment_idempotency WHERE key_id = $1 AND idem_key = $2 AND created_at <= $3`,
				c.key.ID, idem, now.Add(-IdempotencyWindow)); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO payment_idempotency (key_id, idem_key, body_hash, payment_id, created_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (key_id, idem_key) DO NOTHING`, c.key.ID, idem, req.hash(), co.Payments[0], now)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errIdempotencyRace
			}
		}
		pid = co.Payments[0]
		return nil
	})
	if errors.Is(err, errIdempotencyRace) {
		if done, perr := a.replay(c, idem, req.hash(), now); done || perr != nil {
			return perr
		}
		return errDownstream("P0198", err)
	}
	if err != nil {
		if perr := fromValidate(err); perr != nil && perr.status < 500 {
			return perr
		}
		return errDownstream("P0198", err)
	}
	p, err := a.payments.Get(ctx, c.key.Agency, pid)
	if err != nil {
		return errDownstream("P0198", err)
	}
	c.w.Header().Set("Location", c.base+"/v1/payments/"+p.ID)
	writeJSON(c.w, http.StatusCreated, Resource(c.base, p, payment.APIDetail{}))
	return nil
}

// replay answers a create whose Idempotency-Key was used within the
// window: with the payment it made (200) if the body is the same, 409
// P0191 if not. done is false when the key is new.
func (a *API) replay(c *call, idem, hash string, now time.Time) (done bool, perr *payError) {
	var prevHash, pid string
	err := a.db.Read().QueryRowContext(c.r.Context(), `SELECT body_hash, payment_id FROM payment_idempotency WHERE key_id = $1 AND idem_key = $2 AND created_at > $3`,
		c.key.ID, idem, now.Add(-IdempotencyWindow)).Scan(&prevHash, &pid)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return true, errDownstream("P0198", err)
	}
	if prevHash != hash {
		return true, newError(http.StatusConflict, "P0191", "The `Idempotency-Key` you sent in the request header has already been used to create a payment.")
	}
	p, err := Describe(c.r.Context(), a.payments, c.base, c.key.Agency, pid)
	if err != nil {
		return true, errDownstream("P0198", err)
	}
	c.w.Header().Set("Location", c.base+"/v1/payments/"+p.PaymentID)
	writeJSON(c.w, http.StatusOK, p)
	return true, nil
}

// fromValidate turns payment.Validate's mistake into Pay's error.
func fromValidate(err error) *payError {
	var fe *payment.FieldError
	if errors.As(err, &fe) {
		return fieldError(fe.Status, fe.Code, fe.Field, fe.Description)
	}
	if platform.ErrorCode(err) == platform.CodeInvalid {
		return newError(http.StatusUnprocessableEntity, "P0102", platform.ErrorMessage(err))
	}
	return errDownstream("P0198", err)
}

// lookup reads the key's agency's payment id in the key's mode; anything
// else is Pay's 404 with notFound's code.
func (a *API) lookup(c *call, notFound string) (payment.Payment, *payError) {
	id := c.r.PathValue("id")
	p, err := a.payments.Get(c.r.Context(), c.key.Agency, id)
	if platform.ErrorCode(err) == platform.CodeNotFound || err == nil && p.Live != c.key.Live {
		return payment.Payment{}, newError(http.StatusNotFound, notFound, "Not found")
	}
	if err != nil {
		return payment.Payment{}, errDownstream("P0298", err)
	}
	return p, nil
}

// auditRead records that the agency's system read a payment (it holds the
// payer's email): every access to a person's data is audited.
func (a *API) auditRead(c *call, action, subject string, detail map[string]any) {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["actor"] = c.actor.String()
	if _, err := a.audit.Write(c.r.Context(), audit.Record{Action: action, Subject: subject, AgencyID: c.key.Agency, Detail: detail}); err != nil {
		a.logger.ErrorContext(c.r.Context(), "payments API: audit", "err", err)
	}
}

func (a *API) get(c *call) *payError {
	p, perr := a.lookup(c, "P0200")
	if perr != nil {
		return perr
	}
	ds, err := a.payments.APIDetails(c.r.Context(), []string{p.ID})
	if err != nil {
		return errDownstream("P0298", err)
	}
	a.auditRead(c, "payment.read", "payment:"+p.ID, nil)
	writeJSON(c.w, http.StatusOK, Resource(c.base, p, ds[p.ID]))
	return nil
}

func (a *API) events(c *call) *payError {
	p, perr := a.lookup(c, "P0300")
	if perr != nil {
		return perr
	}
	hist, err := a.payments.History(c.r.Context(), c.key.Agency, p.ID)
	if err != nil {
		return errDownstream("P0398", err)
	}
	self := c.base + "/v1/payments/" + p.ID
	out := eventsJSON{PaymentID: p.ID, Links: map[string]link{"self": {Href: self + "/events", Method: "GET"}}, Events: []eventJSON{}}
	for _, h := range hist {
		out.Events = append(out.Events, eventJSON{PaymentID: p.ID, State: h.State, Updated: payDate(h.At),
			Links: map[string]link{"payment_url": {Href: self, Method: "GET"}}})
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (a *API) cancel(c *call) *payError {
	p, perr := a.lookup(c, "P0500")
	if perr != nil {
		return perr
	}
	err := a.payments.Cancel(c.r.Context(), c.actor, c.key.Agency, p.ID)
	switch {
	case err == nil:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	case errors.Is(err, payment.ErrFinished):
		return newError(http.StatusBadRequest, "P0501", "Cancellation of payment failed")
	case errors.Is(err, payment.ErrInFlight):
		return newError(http.StatusConflict, "P0502", "Cancellation of payment failed")
	case platform.ErrorCode(err) == platform.CodeNotFound:
		return newError(http.StatusNotFound, "P0500", "Not found")
	}
	return errDownstream("P0598", err)
}

func (a *API) capture(c *call) *payError {
	p, perr := a.lookup(c, "P1000")
	if perr != nil {
		return perr
	}
	err := a.payments.Capture(c.r.Context(), c.actor, c.key.Agency, p.ID)
	switch {
	case err == nil:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	case errors.Is(err, payment.ErrNotCapturable):
		return newError(http.StatusBadRequest, "P1003", "Payment cannot be captured")
	case platform.ErrorCode(err) == platform.CodeNotFound:
		return newError(http.StatusNotFound, "P1000", "Not found")
	}
	return errDownstream("P1098", err)
}

func (a *API) createRefund(c *call) *payError {
	if perr := checkContentType(c.r); perr != nil {
		return perr
	}
	p, perr := a.lookup(c, "P0600")
	if perr != nil {
		return perr
	}
	body, perr := readBody(c.r)
	if perr != nil {
		return perr
	}
	req, perr := parseRefund(body)
	if perr != nil {
		return perr
	}
	r, err := a.payments.Refund(c.r.Context(), c.actor, c.key.Agency, p.ID, req.Amount, req.Available, "")
	var rp *payment.RefundProblem
	switch {
	case errors.As(err, &rp):
		return &payError{status: rp.Status, Code: rp.Code, Description: rp.Description, Field: refundField(rp)}
	case platform.ErrorCode(err) == platform.CodeNotFound:
		return newError(http.StatusNotFound, "P0600", "Not found")
	case err != nil:
		return errDownstream("P0698", err)
	}
	writeJSON(c.w, http.StatusAccepted, refundJSONOf(c.base, r))
	return nil
}

func refundField(rp *payment.RefundProblem) string {
	if rp.Code == "P0602" {
		return rp.Field
	}
	return ""
}

func (a *API) refunds(c *call) *payError {
	p, perr := a.lookup(c, "P0800")
	if perr != nil {
		return perr
	}
	rs, err := a.payments.Refunds(c.r.Context(), c.key.Agency, p.ID)
	if err != nil {
		return errDownstream("P0898", err)
	}
	self := c.base + "/v1/payments/" + p.ID
	out := refundListJSON{PaymentID: p.ID, Links: map[string]link{"self": {Href: self + "/refunds", Method: "GET"}, "payment": {Href: self, Method: "GET"}}}
	out.Embedded.Refunds = []refundJSON{}
	for _, r := range rs {
		out.Embedded.Refunds = append(out.Embedded.Refunds, refundJSONOf(c.base, r))
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (a *API) refund(c *call) *payError {
	p, perr := a.lookup(c, "P0700")
	if perr != nil {
		return perr
	}
	r, err := a.payments.GetRefund(c.r.Context(), c.key.Agency, p.ID, c.r.PathValue("refundId"))
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return newError(http.StatusNotFound, "P0700", "Not found")
	}
	if err != nil {
		return errDownstream("P0798", err)
	}
	writeJSON(c.w, http.StatusOK, refundJSONOf(c.base, r))
	return nil
}

// searchParams are the query parameters search accepts.
var searchParams = []string{"reference", "email", "state", "from_date", "to_date", "page", "display_size"}

func (a *API) search(c *call) *payError {
	qs := c.r.URL.Query()
	q := payment.Query{Agency: c.key.Agency, Live: c.key.Live, Reference: qs.Get("reference"), Email: qs.Get("email")}
	var bad []string
	if st := qs.Get("state"); st != "" {
		if !payment.Status(st).Valid() {
			bad = append(bad, "state")
		}
		q.Status = payment.Status(st)
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{{"from_date", &q.From}, {"to_date", &q.To}} {
		if v := qs.Get(d.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad = append(bad, d.name)
			}
			*d.dst = t
		}
	}
	page, size := 1, MaxDisplaySize
	if v := qs.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad = append(bad, "page")
		}
		page = n
	}
	if v := qs.Get("display_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxDisplaySize {
			bad = append(bad, "display_size")
		}
		size = n
	}
	if len(bad) > 0 {
		return newError(http.StatusUnprocessableEntity, "P0401", "Invalid parameters: "+strings.Join(bad, ", ")+". See Public API documentation for the correct data formats")
	}
	q.Limit, q.Offset = size, (page-1)*size
	list, total, err := a.payments.Search(c.r.Context(), q)
	if err != nil {
		return errDownstream("P0498", err)
	}
	if page > 1 && len(list) == 0 {
		return newError(http.StatusNotFound, "P0402", "Page not found")
	}
	ids := make([]string, len(list))
	for i, p := range list {
		ids[i] = p.ID
	}
	ds, err := a.payments.APIDetails(c.r.Context(), ids)
	if err != nil {
		return errDownstream("P0498", err)
	}
	out := searchJSON{Total: total, Count: len(list), Page: page, Results: []Payment{}, Links: map[string]*hrefOnly{}}
	for _, p := range list {
		out.Results = append(out.Results, Resource(c.base, p, ds[p.ID]))
	}
	last := max((total+size-1)/size, 1)
	pageURL := func(n int) *hrefOnly {
		v := url.Values{}
		for _, k := range searchParams {
			if x := qs.Get(k); x != "" {
				v.Set(k, x)
			}
		}
		v.Set("page", strconv.Itoa(n))
		v.Set("display_size", strconv.Itoa(size))
		return &hrefOnly{Href: c.base + "/v1/payments?" + v.Encode()}
	}
	out.Links["self"] = pageURL(page)
	out.Links["first_page"] = pageURL(1)
	out.Links["last_page"] = pageURL(last)
	if page > 1 {
		out.Links["prev_page"] = pageURL(page - 1)
	}
	if page < last {
		out.Links["next_page"] = pageURL(page + 1)
	}
	a.auditRead(c, "payment.search", "payment-key:"+c.key.ID, map[string]any{"results": len(list), "total": total,
		"by_reference": q.Reference != "", "by_email": q.Email != "", "state": string(q.Status)})
	writeJSON(c.w, http.StatusOK, out)
	return nil
}
