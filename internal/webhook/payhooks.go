package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/payment/payresource"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
)

// Payment webhooks to agency systems, GOV.UK Pay style (issue 12; facts
// in REFERENCE.md, "Webhooks"). An agency subscribes a URL to some of
// Pay's event types; the consumer PayConsumerName turns each payment
// event of the agency into one message per matching subscription (a
// pay_webhook_deliveries row and its River job, in one transaction with
// events.Once), and the job POSTs it:
//
//   - body {webhook_message_id, created_date, resource_id, api_version: 1,
//     resource_type: "payment", event_type, resource}, fixed at fan-out so
//     every attempt sends the same bytes and the same message id;
//   - header Pay-Signature: lower-case hex HMAC-SHA256 of the raw body
//     keyed by the subscription's signing secret (crypto/hmac);
//   - only a 2xx answer counts; anything else is retried after 60 s,
//     5 min, 1 h, 1 day and 2 days (PayRetrySchedule), then the message
//     is dead (audited).
//
// What it shares with plug-in webhooks (this package): the HTTP attempt
// (post: timeout, no redirects, bounded read of the answer), the Config
// (Timeout, Client, Logger), River jobs inserted in the fan-out
// transaction and the events.Once receipt. What differs is the envelope
// (Pay's, not CloudEvents), the signature (Pay-Signature, not Standard
// Webhooks), the fixed schedule and the subscriptions (an agency's URLs,
// not plug-in manifests), hence their own tables (migration 00040).

// PayConsumerName is the events consumer that fans payment events out to
// agencies' webhooks. It keys a cursor and receipts: never rename it.
const PayConsumerName = "payment-webhooks"

// Pay's event types.
const (
	PayStarted   = "card_payment_started"
	PaySucceeded = "card_payment_succeeded"
	PayCaptured  = "card_payment_captured"
	PayRefunded  = "card_payment_refunded"
	PayFailed    = "card_payment_failed"
	PayExpired   = "card_payment_expired"
)

// PayEventTypes are the event types a subscription may ask for.
var PayEventTypes = []string{PayStarted, PaySucceeded, PayCaptured, PayRefunded, PayFailed, PayExpired}

// PayRetrySchedule is GOV.UK Pay's: the wait after the 1st, 2nd, ...
// failed attempt. After the last the message is dead.
var PayRetrySchedule = []time.Duration{time.Minute, 5 * time.Minute, time.Hour, 24 * time.Hour, 48 * time.Hour}

// PaySignatureHeader carries the signature.
const PaySignatureHeader = "Pay-Signature"

// PaySign returns the Pay-Signature of body: lower-case hex HMAC-SHA256
// keyed by secret.
func PaySign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// PayEventType is the Pay event type of a payment event, "" for one that
// sends no webhook (a payment created; a payment cancelled by the
// service, which Pay does not announce). The payment block emits
// created, succeeded and failed; started, captured and refunded are
// mapped for the events other parts of issue 12 add.
func PayEventType(e events.Event) string {
	switch strings.TrimPrefix(e.Type, "gov.portico.payment.") {
	case "started":
		return PayStarted
	case "succeeded":
		return PaySucceeded
	case "captured":
		return PayCaptured
	case "refunded":
		return PayRefunded
	case "failed":
		var d struct {
			Status string `json:"status"`
			Code   string `json:"code"`
		}
		_ = json.Unmarshal(e.Data, &d)
		switch {
		case d.Code == payment.CodeExpired:
			return PayExpired
		case d.Status == string(payment.Cancelled):
			return ""
		}
		return PayFailed
	}
	return ""
}

// Payments is what the webhooks need of the payment block: what
// payresource.Describe reads a payment with.
type Payments = payresource.Reader

// PayConfig tunes payment webhooks; zero values take the defaults.
type PayConfig struct {
	Config
	// Schedule replaces PayRetrySchedule (tests use a short one).
	Schedule []time.Duration
	// PublicURL returns Portico's public address, which the resource's
	// links start with (as the API's do).
	PublicURL func() string
}

// PayHooks is the payment webhooks part of the block.
type PayHooks struct {
	db       *storage.DB
	log      *audit.Log
	clock    platform.Clock
	box      *secrets.Box
	payments Payments
	ins      *jobs.Inserter
	cfg      PayConfig
}

// NewPayHooks returns payment webhooks, subscribes their consumer to bus
// and registers their delivery worker in jreg.
func NewPayHooks(db *storage.DB, log *audit.Log, clock platform.Clock, box *secrets.Box, payments Payments, bus *events.Bus,
	ins *jobs.Inserter, jreg *jobs.Registry, cfg PayConfig) (*PayHooks, error) {
	if err := platform.Required("payment webhooks", platform.Dep{Name: "database", Missing: db == nil}, platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}, platform.Dep{Name: "secrets box", Missing: box == nil},
		platform.Dep{Name: "payments", Missing: payments == nil}, platform.Dep{Name: "event bus", Missing: bus == nil},
		platform.Dep{Name: "job inserter", Missing: ins == nil}, platform.Dep{Name: "job registry", Missing: jreg == nil}); err != nil {
		return nil, err
	}
	cfg.defaults()
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = PayRetrySchedule
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	h := &PayHooks{db: db, log: log, clock: clock, box: box, payments: payments, ins: ins, cfg: cfg}
	bus.Subscribe(events.Consumer{Name: PayConsumerName, Types: []string{"gov.portico.payment.*"}, Handle: h.FanOut})
	jobs.Register(jreg, &payWorker{h: h})
	return h, nil
}

// PayWebhook is an agency's subscription.
type PayWebhook struct {
	ID        string    `json:"id"`
	Agency    string    `json:"agency"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	// SigningSecret is set only in what Create returns: it is shown once.
	SigningSecret string `json:"signing_secret,omitempty"`
}

// mayManage: the operator, platform administrators and the agency's own
// administrators manage an agency's payment webhooks.
func mayManage(actor platform.Actor, agency string) error {
	switch {
	case isPlatform(actor):
		return nil
	case actor.Kind == platform.ActorStaff && actor.HasRole(agency, "agency_admin"):
		return nil
	case !actor.SignedIn():
		return platform.Errorf(platform.CodeUnauthorized, "sign in to manage payment webhooks")
	}
	return platform.Errorf(platform.CodeForbidden, "only the agency's administrators manage its payment webhooks")
}

func sealPayContext(id string) string { return "pay-webhook:" + id }

// CheckPayURL checks a subscription's URL: https, or http to a loopback
// address (a system on the same machine, tests).
func CheckPayURL(raw string) error {
	u, err := url.Parse(raw)
	bad := platform.Invalid("url", "give an https:// URL (http:// only to localhost)")
	if err != nil || len(raw) > 2000 || u.Host == "" || u.User != nil || u.Fragment != "" {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return bad
}

// Create subscribes url to eventTypes (all of PayEventTypes when empty)
// of agency's payments and returns the subscription with its signing
// secret, which is not shown again.
func (h *PayHooks) Create(ctx context.Context, actor platform.Actor, agency, rawURL string, eventTypes []string) (PayWebhook, error) {
	if err := mayManage(actor, agency); err != nil {
		return PayWebhook{}, err
	}
	if strings.TrimSpace(agency) == "" {
		return PayWebhook{}, platform.Invalid("agency", "name the agency")
	}
	if err := CheckPayURL(rawURL); err != nil {
		return PayWebhook{}, err
	}
	if len(eventTypes) == 0 {
		eventTypes = PayEventTypes
	}
	var types []string
	for _, t := range eventTypes {
		t = strings.TrimSpace(t)
		if !slices.Contains(PayEventTypes, t) {
			return PayWebhook{}, platform.Invalid("events", fmt.Sprintf("%q is not an event type; the types are %s", clipText(t), strings.Join(PayEventTypes, ", ")))
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	w := PayWebhook{ID: uuid.Must(uuid.NewV7()).String(), Agency: agency, URL: rawURL, Events: types, CreatedAt: h.clock.Now().UTC(),
		SigningSecret: "paywh_" + hex.EncodeToString(raw[:])}
	sealed, err := h.box.Seal(w.SigningSecret, sealPayContext(w.ID))
	if err != nil {
		return PayWebhook{}, err
	}
	evs, _ := json.Marshal(types)
	err = h.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pay_webhooks (id, agency_id, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			w.ID, w.Agency, w.URL, string(evs), sealed, w.CreatedAt); err != nil {
			return fmt.Errorf("webhook: create payment webhook: %w", err)
		}
		_, err := h.log.Append(platform.WithActor(ctx, actor), tx, audit.Record{Action: "payment.webhook.create", Subject: "pay-webhook:" + w.ID, AgencyID: agency,
			Detail: map[string]any{"url": w.URL, "events": types}})
		return err
	})
	if err != nil {
		return PayWebhook{}, err
	}
	return w, nil
}

// List returns agency's subscriptions (not deleted), oldest first, without
// their secrets.
func (h *PayHooks) List(ctx context.Context, actor platform.Actor, agency string) ([]PayWebhook, error) {
	if err := mayManage(actor, agency); err != nil {
		return nil, err
	}
	rows, err := h.db.Read().QueryContext(ctx, `SELECT id, agency_id, url, events, created_at FROM pay_webhooks WHERE agency_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, agency)
	if err != nil {
		return nil, fmt.Errorf("webhook: list payment webhooks: %w", err)
	}
	defer rows.Close()
	out := []PayWebhook{}
	for rows.Next() {
		var w PayWebhook
		var evs string
		if err := rows.Scan(&w.ID, &w.Agency, &w.URL, &evs, &w.CreatedAt); err != nil {
			return nil, fmt.Errorf("webhook: list payment webhooks: %w", err)
		}
		_ = json.Unmarshal([]byte(evs), &w.Events)
		w.CreatedAt = w.CreatedAt.UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}

// Delete ends subscription id of agency: nothing more is sent to it, and
// messages still waiting stop.
func (h *PayHooks) Delete(ctx context.Context, actor platform.Actor, agency, id string) error {
	if err := mayManage(actor, agency); err != nil {
		return err
	}
	notFound := platform.Errorf(platform.CodeNotFound, "agency %s has no payment webhook %s", agency, clipText(id))
	if !platform.IsUUID(id) {
		return notFound
	}
	return h.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE pay_webhooks SET deleted_at = $1 WHERE id = $2 AND agency_id = $3 AND deleted_at IS NULL`, h.clock.Now().UTC(), id, agency)
		if err != nil {
			return fmt.Errorf("webhook: delete payment webhook: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound
		}
		_, err = h.log.Append(platform.WithActor(ctx, actor), tx, audit.Record{Action: "payment.webhook.delete", Subject: "pay-webhook:" + id, AgencyID: agency})
		return err
	})
}

// PayMessage is the body of a payment webhook.
type PayMessage struct {
	WebhookMessageID string          `json:"webhook_message_id"`
	CreatedDate      string          `json:"created_date"`
	ResourceID       string          `json:"resource_id"`
	APIVersion       int             `json:"api_version"`
	ResourceType     string          `json:"resource_type"`
	EventType        string          `json:"event_type"`
	Resource         PaymentResource `json:"resource"`
}

// PaymentResource is a payment exactly as GET /v1/payments/{id} answers
// it: one builder (payresource.Resource) makes both, so a webhook's resource
// and the API never disagree.
type PaymentResource = payresource.Payment

// payTime is how Pay writes times: UTC with milliseconds.
func payTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type paySub struct {
	id     string
	events []string
}

// FanOut is the consumer's handler: one message per subscription of the
// event's agency that asked for its Pay type, once per event
// (events.Once; the unique (event, webhook) pair guards it too).
func (h *PayHooks) FanOut(ctx context.Context, e events.Event) error {
	typ := PayEventType(e)
	if typ == "" || e.AgencyID == "" {
		return nil
	}
	rows, err := h.db.Read().QueryContext(ctx, `SELECT id, events FROM pay_webhooks WHERE agency_id = $1 AND deleted_at IS NULL ORDER BY id`, e.AgencyID)
	if err != nil {
		return fmt.Errorf("webhook: payment subscriptions: %w", err)
	}
	var subs []paySub
	for rows.Next() {
		var s paySub
		var evs string
		if err := rows.Scan(&s.id, &evs); err != nil {
			rows.Close()
			return fmt.Errorf("webhook: payment subscriptions: %w", err)
		}
		_ = json.Unmarshal([]byte(evs), &s.events)
		if slices.Contains(s.events, typ) {
			subs = append(subs, s)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(subs) == 0 {
		return nil
	}
	paymentID := strings.TrimPrefix(e.Subject, "payment:")
	resource, err := payresource.Describe(ctx, h.payments, strings.TrimRight(h.cfg.PublicURL(), "/"), e.AgencyID, paymentID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		return nil // nothing to describe (cannot happen: payments are never deleted)
	}
	if err != nil {
		return err
	}
	now := h.clock.Now().UTC()
	return events.Once(ctx, h.db, PayConsumerName, e.ID, now, func(tx *sql.Tx) error {
		for _, s := range subs {
			id := uuid.Must(uuid.NewV7()).String()
			body, err := json.Marshal(PayMessage{WebhookMessageID: id, CreatedDate: payTime(e.Time), ResourceID: resource.PaymentID, APIVersion: 1,
				ResourceType: "payment", EventType: typ, Resource: resource})
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO pay_webhook_deliveries (id, webhook_id, event_id, event_type, payment_id, agency_id, body, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (event_id, webhook_id) DO NOTHING`,
				id, s.id, e.ID, typ, resource.PaymentID, e.AgencyID, string(body), StatusPending, now)
			if err != nil {
				return fmt.Errorf("webhook: record payment message: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue
			}
			if err := jobs.Enqueue(ctx, h.ins, tx, PayDeliverArgs{DeliveryID: id}, &river.InsertOpts{MaxAttempts: len(h.cfg.Schedule) + 1}); err != nil {
				return err
			}
		}
		return nil
	})
}

// PayDeliverArgs is the job that sends one payment webhook message.
type PayDeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (PayDeliverArgs) Kind() string { return "webhook.pay_deliver" }

type payWorker struct {
	river.WorkerDefaults[PayDeliverArgs]
	h *PayHooks
}

func (w *payWorker) Timeout(*river.Job[PayDeliverArgs]) time.Duration {
	return w.h.cfg.Timeout + 30*time.Second
}

// NextRetry follows the schedule, not River's backoff.
func (w *payWorker) NextRetry(job *river.Job[PayDeliverArgs]) time.Time {
	return w.h.RetryAt(job.Attempt)
}

func (w *payWorker) Work(ctx context.Context, job *river.Job[PayDeliverArgs]) error {
	return w.h.deliver(ctx, job.Args.DeliveryID, job.Attempt >= job.MaxAttempts)
}

// RetryAt is when a message whose attempt-th attempt (from 1) just failed
// is tried again: now plus the schedule's wait.
func (h *PayHooks) RetryAt(attempt int) time.Time {
	i := min(max(attempt, 1), len(h.cfg.Schedule)) - 1
	return h.clock.Now().Add(h.cfg.Schedule[i])
}

// deliver makes one attempt at message id; last says River will not try
// again if it fails.
func (h *PayHooks) deliver(ctx context.Context, id string, last bool) error {
	var webhookID, agency, body, status, target, sealed string
	var deleted sql.NullTime
	err := h.db.Read().QueryRowContext(ctx, `SELECT d.webhook_id, d.agency_id, d.body, d.status, w.url, w.secret, w.deleted_at
		FROM pay_webhook_deliveries d JOIN pay_webhooks w ON w.id = d.webhook_id WHERE d.id = $1`, id).
		Scan(&webhookID, &agency, &body, &status, &target, &sealed, &deleted)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != StatusPending) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("webhook: read payment message %s: %w", id, err)
	}
	if deleted.Valid {
		return h.record(ctx, id, StatusStopped, 0, "the webhook was deleted before the message went out", false)
	}
	secret, err := h.box.Open(sealed, sealPayContext(webhookID))
	if err != nil {
		return fmt.Errorf("webhook: secret of payment webhook %s: %w", webhookID, err)
	}
	resp, err := post(ctx, h.cfg.Config, target, []byte(body), http.Header{
		"Content-Type":     {"application/json"},
		PaySignatureHeader: {PaySign(secret, []byte(body))},
	})
	code := 0
	if err == nil {
		code = resp.StatusCode
		if code >= 200 && code < 300 {
			return h.record(ctx, id, StatusDelivered, code, "", true)
		}
		err = fmt.Errorf("answered %d %s", code, http.StatusText(code))
	}
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	if !last {
		if rerr := h.record(ctx, id, StatusPending, code, msg, true); rerr != nil {
			return rerr
		}
		return fmt.Errorf("webhook: payment message %s to %s: %s", id, webhookID, msg)
	}
	err = h.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE pay_webhook_deliveries SET status = $2, attempts = attempts + 1, last_status = $3, last_error = $4, updated_at = $5 WHERE id = $1`,
			id, StatusDead, code, msg, h.clock.Now().UTC()); err != nil {
			return fmt.Errorf("webhook: record dead payment message: %w", err)
		}
		_, err := h.log.Append(platform.WithActor(ctx, system), tx, audit.Record{Action: "payment.webhook.dead", Subject: "pay-webhook:" + webhookID, AgencyID: agency,
			Detail: map[string]any{"message": id, "error": msg}})
		return err
	})
	if err != nil {
		return err
	}
	h.cfg.Logger.Warn("payment webhook message is dead", "webhook", webhookID, "agency", agency, "message", id, "error", msg)
	return river.JobCancel(fmt.Errorf("webhook: payment message %s: dead: %s", id, msg))
}

func (h *PayHooks) record(ctx context.Context, id, status string, code int, msg string, attempted bool) error {
	now := h.clock.Now().UTC()
	inc := 0
	if attempted {
		inc = 1
	}
	var delivered *time.Time
	if status == StatusDelivered {
		delivered = &now
	}
	if _, err := h.db.Write().ExecContext(ctx, `UPDATE pay_webhook_deliveries SET status = $2, attempts = attempts + $3, last_status = $4, last_error = $5, updated_at = $6,
		delivered_at = $7 WHERE id = $1`, id, status, inc, code, msg, now, delivered); err != nil {
		return fmt.Errorf("webhook: record payment message %s: %w", id, err)
	}
	return nil
}

// PayMessageStatus is one message's delivery, for operators and tests.
type PayMessageStatus struct {
	ID         string `json:"id"`
	EventType  string `json:"event_type"`
	PaymentID  string `json:"payment_id"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"last_status"`
	LastError  string `json:"last_error,omitempty"`
}

// Messages returns the latest messages (at most 200) of subscription id
// of agency, newest first.
func (h *PayHooks) Messages(ctx context.Context, actor platform.Actor, agency, id string) ([]PayMessageStatus, error) {
	if err := mayManage(actor, agency); err != nil {
		return nil, err
	}
	rows, err := h.db.Read().QueryContext(ctx, `SELECT id, event_type, payment_id, status, attempts, last_status, last_error FROM pay_webhook_deliveries
		WHERE webhook_id = $1 AND agency_id = $2 ORDER BY created_at DESC, id DESC LIMIT 200`, id, agency)
	if err != nil {
		return nil, fmt.Errorf("webhook: payment messages: %w", err)
	}
	defer rows.Close()
	out := []PayMessageStatus{}
	for rows.Next() {
		var m PayMessageStatus
		if err := rows.Scan(&m.ID, &m.EventType, &m.PaymentID, &m.Status, &m.Attempts, &m.LastStatus, &m.LastError); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
