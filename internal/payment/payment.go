// Package payment is the block that takes money online (issue 12): an
// agency's payment in GOV.UK Pay's states with only valid transitions,
// the agency's double-entry ledger that every success posts to in the
// same transaction, and the sandbox provider's test cards.
//
// Contract:
//   - A payment's state changes only by a transition CanMove allows, in a
//     transaction that also appends its history row, its audit entry and
//     its event; a payment that succeeds posts its charge to the ledger in
//     that same transaction, so the books and the payments never disagree
//     (Check proves it).
//   - Amounts are integer minor units; a posting that does not balance is
//     refused.
package payment

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Expiry is how long a payment may stay unfinished: after it, it fails
// with P0020 (GOV.UK Pay's 90 minutes).
const Expiry = 90 * time.Minute

// Limits of a payment's fields, as GOV.UK Pay's API sets them.
const (
	MaxAmount      = 10_000_000
	MaxReference   = 255
	MaxDescription = 255
	MaxReturnURL   = 2000
	MaxEmail       = 254
	MaxMetadata    = 15
	MaxMetaKey     = 30
	MaxMetaValue   = 100
)

// Event types of the block.
const (
	EventCreated   = "gov.portico.payment.created"
	EventSucceeded = "gov.portico.payment.succeeded"
	EventFailed    = "gov.portico.payment.failed"
	// EventStarted: the payer reached the provider's payment page.
	EventStarted = "gov.portico.payment.started"
	// EventCaptured: the provider was asked to take the money, which
	// Portico's providers do as a payment succeeds (a delayed-capture
	// payment: when the service captures it); emitted after
	// EventSucceeded in the same transaction.
	EventCaptured = "gov.portico.payment.captured"
)

// Payment is one payment an agency asked for.
type Payment struct {
	ID             string         `json:"payment_id"`
	Agency         string         `json:"agency"`
	Live           bool           `json:"live"`
	Amount         int64          `json:"amount"`
	Currency       string         `json:"currency"`
	Reference      string         `json:"reference"`
	Description    string         `json:"description"`
	ReturnURL      string         `json:"return_url"`
	Language       string         `json:"language"`
	Email          string         `json:"email,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	DelayedCapture bool           `json:"delayed_capture"`
	Provider       string         `json:"payment_provider"`
	Checkout       string         `json:"-"`
	State          State          `json:"state"`
	CreatedAt      time.Time      `json:"created_date"`
	ExpiresAt      time.Time      `json:"-"`
}

// New is what an agency asks for.
type New struct {
	Agency         string
	Live           bool
	Amount         int64
	Currency       string // "" = USD
	Reference      string
	Description    string
	ReturnURL      string
	Language       string // en (default) or es
	Email          string
	Metadata       map[string]any
	DelayedCapture bool
	Provider       string // "sandbox" for test mode
	Checkout       string // the checkout it belongs to (set by OpenCheckout)
}

// FieldError is a payment request's mistake, named the way GOV.UK Pay
// names it: the field, the error code and its description.
type FieldError struct {
	Field       string
	Code        string // P0101 missing, P0102 invalid
	Description string
	// Status is the HTTP status GOV.UK Pay answers with: 400 for a
	// missing or mistyped value, 422 for one out of range.
	Status int
}

func (e *FieldError) Error() string { return e.Description }

// Unwrap makes the mistake CodeInvalid at every edge.
func (e *FieldError) Unwrap() error { return platform.Invalid(e.Field, e.Description) }

func missing(field string) *FieldError {
	return &FieldError{Field: field, Code: "P0101", Status: 400, Description: "Missing mandatory attribute: " + field}
}

func invalid(field, why string) *FieldError {
	return &FieldError{Field: field, Code: "P0102", Status: 422, Description: "Invalid attribute value: " + field + ". " + why}
}

// Validate checks n as GOV.UK Pay checks a create request and returns it
// tidied (language defaulted, currency defaulted), or the first mistake.
func Validate(n New) (New, error) {
	if n.Agency == "" {
		return New{}, missing("agency")
	}
	switch {
	case n.Amount < 1:
		return New{}, invalid("amount", "Must be greater than or equal to 1")
	case n.Amount > MaxAmount:
		return New{}, invalid("amount", fmt.Sprintf("Must be less than or equal to %d", MaxAmount))
	}
	m, err := platform.NewMoney(n.Amount, n.Currency)
	if err != nil {
		return New{}, invalid("currency", "Must be an ISO 4217 currency code")
	}
	n.Currency = m.Currency
	for _, f := range []struct {
		name, v string
		max     int
	}{{"reference", n.Reference, MaxReference}, {"description", n.Description, MaxDescription}, {"return_url", n.ReturnURL, MaxReturnURL}} {
		if strings.TrimSpace(f.v) == "" {
			return New{}, missing(f.name)
		}
		if !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return New{}, invalid(f.name, "Must be valid text")
		}
		if utf8.RuneCountInString(f.v) > f.max {
			return New{}, invalid(f.name, fmt.Sprintf("Must be less than or equal to %d characters length", f.max))
		}
	}
	if looksLikeURL(n.Reference) {
		return New{}, invalid("reference", "Must not be a URL")
	}
	u, err := url.Parse(n.ReturnURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return New{}, invalid("return_url", "Must be a valid URL format")
	}
	if n.Live && u.Scheme != "https" {
		return New{}, &FieldError{Field: "return_url", Code: "P0920", Status: 422, Description: "Invalid attribute value: return_url. Must be an https URL"}
	}
	switch n.Language {
	case "":
		n.Language = "en"
	case "en", "es":
	default:
		return New{}, invalid("language", "Must be \"en\" or \"es\"")
	}
	if len(n.Email) > MaxEmail {
		return New{}, invalid("email", fmt.Sprintf("Must be less than or equal to %d characters length", MaxEmail))
	}
	if len(n.Metadata) > MaxMetadata {
		return New{}, invalid("metadata", fmt.Sprintf("Cannot have more than %d key-value pairs", MaxMetadata))
	}
	for k, v := range n.Metadata {
		if k == "" || len(k) > MaxMetaKey {
			return New{}, invalid("metadata", fmt.Sprintf("Keys must be between 1 and %d characters long", MaxMetaKey))
		}
		switch x := v.(type) {
		case string:
			if utf8.RuneCountInString(x) > MaxMetaValue {
				return New{}, invalid("metadata", fmt.Sprintf("Values must be no greater than %d characters long", MaxMetaValue))
			}
		case float64, int, int64, bool:
		default:
			return New{}, invalid("metadata", "Values must be of type String, Boolean or Number")
		}
	}
	if n.Provider == "" {
		n.Provider = "sandbox"
	}
	return n, nil
}

func looksLikeURL(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "www.")
}

// newID returns a payment id: 26 characters of lowercase base-32, like
// GOV.UK Pay's.
func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [26]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b[:])
}

// Service is the payment block.
type Service struct {
	db        *storage.DB
	audit     *audit.Log
	bus       *events.Bus
	clock     platform.Clock
	providers map[string]Provider
	jobs      *jobs.Inserter // refunds' provider calls (WithJobs)
}

// NewService returns the block. Every argument is required; opts add
// what only some uses need (WithJobs, for refunds).
func NewService(db *storage.DB, log *audit.Log, bus *events.Bus, clock platform.Clock, opts ...Option) (*Service, error) {
	if err := platform.Required("payment",
		platform.Dep{Name: "database", Missing: db == nil},
		platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "event bus", Missing: bus == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}); err != nil {
		return nil, err
	}
	s := &Service{db: db, audit: log, bus: bus, clock: clock}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Create records a new payment in state created, in tx (the caller's
// transaction: an agency's API call, or a checkout that creates several).
func (s *Service) Create(ctx context.Context, tx *sql.Tx, actor platform.Actor, n New) (Payment, error) {
	n, err := Validate(n)
	if err != nil {
		return Payment{}, err
	}
	now := s.clock.Now().UTC()
	p := Payment{ID: newID(), Agency: n.Agency, Live: n.Live, Amount: n.Amount, Currency: n.Currency, Reference: n.Reference,
		Description: n.Description, ReturnURL: n.ReturnURL, Language: n.Language, Email: n.Email, Metadata: n.Metadata,
		DelayedCapture: n.DelayedCapture, Provider: n.Provider, Checkout: n.Checkout, State: StateOf(Created, ""), CreatedAt: now, ExpiresAt: now.Add(Expiry)}
	var meta any
	if len(p.Metadata) > 0 {
		b, err := json.Marshal(p.Metadata)
		if err != nil {
			return Payment{}, invalid("metadata", "Must be a JSON object")
		}
		meta = string(b)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, agency_id, live, amount, currency, reference, description, return_url, language, email, metadata, delayed_capture, provider, status, created_at, updated_at, expires_at, checkout_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17)`,
		p.ID, p.Agency, p.Live, p.Amount, p.Currency, p.Reference, p.Description, p.ReturnURL, p.Language, p.Email, meta, p.DelayedCapture, p.Provider, string(Created), now, p.ExpiresAt, n.Checkout); err != nil {
		return Payment{}, fmt.Errorf("payment: create: %w", err)
	}
	if err := s.history(ctx, tx, p.ID, Created, "", now); err != nil {
		return Payment{}, err
	}
	if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "payment.create", Subject: "payment:" + p.ID, AgencyID: p.Agency,
		Detail: map[string]any{"actor": actor.String(), "amount": p.Amount, "currency": p.Currency, "reference": p.Reference, "live": p.Live}}); err != nil {
		return Payment{}, err
	}
	if err := s.emit(ctx, tx, EventCreated, p); err != nil {
		return Payment{}, err
	}
	return p, nil
}

func (s *Service) history(ctx context.Context, tx *sql.Tx, id string, st Status, code string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO payment_events (payment_id, status, code, at) VALUES ($1, $2, $3, $4)`, id, string(st), code, at); err != nil {
		return fmt.Errorf("payment: history: %w", err)
	}
	return nil
}

// eventData is what a payment event carries: no email, no return URL.
type eventData struct {
	PaymentID string `json:"payment_id"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reference string `json:"reference"`
	Status    Status `json:"status"`
	Code      string `json:"code,omitempty"`
	Live      bool   `json:"live"`
}

func (s *Service) emit(ctx context.Context, tx *sql.Tx, typ string, p Payment) error {
	data, err := json.Marshal(eventData{PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency, Reference: p.Reference, Status: p.State.Status, Code: p.State.Code, Live: p.Live})
	if err != nil {
		return err
	}
	return s.bus.Emit(ctx, tx, events.Event{Source: "/portico/payment", Type: typ, Subject: "payment:" + p.ID, AgencyID: p.Agency, Data: data})
}

// ErrStale is returned by Move when the payment is not in the state the
// caller read: someone else moved it first (a webhook and the return
// page racing). The caller reads it again.
var ErrStale = errors.New("payment: state changed meanwhile")

// Move changes payment id from status from to status to (with a failure
// code for failed, cancelled and error), in tx. The update is
// conditional on the payment still being in from, so two racing movers
// cannot both succeed (ErrStale for the loser). A move to success posts
// the charge to the agency's ledger in the same transaction.
func (s *Service) Move(ctx context.Context, tx *sql.Tx, actor platform.Actor, id string, from, to Status, code string) (Payment, error) {
	if err := checkMove(from, to, code); err != nil {
		return Payment{}, platform.Errorf(platform.CodeConflict, "%v", err)
	}
	now := s.clock.Now().UTC()
	res, err := tx.ExecContext(ctx, `UPDATE payments SET status = $1, code = $2, updated_at = $3 WHERE id = $4 AND status = $5`, string(to), code, now, id, string(from))
	if err != nil {
		return Payment{}, fmt.Errorf("payment: move: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Payment{}, fmt.Errorf("payment: move: %w", err)
	} else if n == 0 {
		return Payment{}, ErrStale
	}
	p, err := get(ctx, tx, id)
	if err != nil {
		return Payment{}, err
	}
	if err := s.history(ctx, tx, id, to, code, now); err != nil {
		return Payment{}, err
	}
	if to == Success {
		if _, err := post(ctx, tx, Posting{Agency: p.Agency, Kind: KindCharge, PaymentID: p.ID, Currency: p.Currency,
			Lines: []Line{{AccountClearing, p.Amount}, {AccountRevenue, -p.Amount}}}, now); err != nil {
			return Payment{}, err
		}
	}
	if _, err := s.audit.Append(ctx, tx, audit.Record{Action: "payment." + string(to), Subject: "payment:" + id, AgencyID: p.Agency,
		Detail: map[string]any{"actor": actor.String(), "from": string(from), "code": code}}); err != nil {
		return Payment{}, err
	}
	switch to {
	case Started:
		err = s.emit(ctx, tx, EventStarted, p)
	case Success:
		if err = s.emit(ctx, tx, EventSucceeded, p); err == nil {
			err = s.emit(ctx, tx, EventCaptured, p)
		}
	case Failed, Cancelled, Error:
		err = s.emit(ctx, tx, EventFailed, p)
	}
	return p, err
}

// Get returns payment id as agency sees it: another agency's payment is
// not found.
func (s *Service) Get(ctx context.Context, agency, id string) (Payment, error) {
	var p Payment
	err := snapshot(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		p, err = get(ctx, tx, id)
		return err
	})
	if err != nil {
		return Payment{}, err
	}
	if p.Agency != agency {
		return Payment{}, platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
	}
	return p, nil
}

func get(ctx context.Context, tx *sql.Tx, id string) (Payment, error) {
	p, err := scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, platform.Errorf(platform.CodeNotFound, "No payment matched the ID you provided")
	}
	if err != nil {
		return Payment{}, fmt.Errorf("payment: get: %w", err)
	}
	return p, nil
}

// paymentColumns are the columns scanPayment reads, in its order.
const paymentColumns = `id, agency_id, live, amount, currency, reference, description, return_url, language, email, metadata, delayed_capture, provider, status, code, created_at, expires_at, checkout_id`

// scanPayment reads one row of paymentColumns.
func scanPayment(r interface{ Scan(...any) error }) (Payment, error) {
	var p Payment
	var status, code string
	var meta sql.NullString
	if err := r.Scan(&p.ID, &p.Agency, &p.Live, &p.Amount, &p.Currency, &p.Reference, &p.Description, &p.ReturnURL, &p.Language, &p.Email, &meta,
		&p.DelayedCapture, &p.Provider, &status, &code, &p.CreatedAt, &p.ExpiresAt, &p.Checkout); err != nil {
		return Payment{}, err
	}
	if meta.Valid && meta.String != "" {
		if err := json.Unmarshal([]byte(meta.String), &p.Metadata); err != nil {
			return Payment{}, fmt.Errorf("metadata: %w", err)
		}
	}
	p.State = StateOf(Status(status), code)
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	return p, nil
}

// queryPayments runs query (which selects paymentColumns) in tx and
// reads every row: one round trip for a page, not one per payment.
func queryPayments(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]Payment, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
