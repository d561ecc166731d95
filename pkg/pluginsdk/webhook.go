package pluginsdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Webhook headers (Standard Webhooks).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// WebhookTolerance is how far a webhook's timestamp may be from the
// receiver's clock, either way.
const WebhookTolerance = 5 * time.Minute

// ContentTypeCloudEvents is the content type of a structured-mode event.
const ContentTypeCloudEvents = "application/cloudevents+json"

// MaxWebhookBody bounds the body WebhookHandler reads.
const MaxWebhookBody = 1 << 20

// WebhookReason says why a webhook was refused.
type WebhookReason string

// Reasons a webhook is refused.
const (
	WebhookSecret    WebhookReason = "secret"    // the receiver's secret is not whsec_ + base64
	WebhookHeaders   WebhookReason = "headers"   // a webhook-* header is missing or malformed
	WebhookTimestamp WebhookReason = "timestamp" // the timestamp is more than WebhookTolerance away
	WebhookSignature WebhookReason = "signature" // no signature matches
)

// WebhookError is why a webhook was refused.
type WebhookError struct {
	Reason WebhookReason
	Detail string
}

func (e *WebhookError) Error() string {
	return fmt.Sprintf("pluginsdk: webhook refused (%s): %s", e.Reason, e.Detail)
}

// VerifyWebhook checks a webhook the Standard Webhooks way: the
// webhook-signature header holds one or more space-separated "v1,BASE64"
// signatures, each an HMAC-SHA256, keyed with the base64-decoded bytes of
// secret after its "whsec_" prefix, of "ID.TIMESTAMP.BODY"
// (webhook-id, webhook-timestamp in Unix seconds, the raw body). One
// matching signature suffices. The timestamp must be within
// WebhookTolerance of now, which defeats replays of old deliveries.
// A refusal is a *WebhookError.
func VerifyWebhook(secret string, headers http.Header, body []byte, now time.Time) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return &WebhookError{Reason: WebhookSecret, Detail: "the secret must be whsec_ followed by base64, as Portico showed it at registration"}
	}
	id, ts, sig := headers.Get(HeaderWebhookID), headers.Get(HeaderWebhookTimestamp), headers.Get(HeaderWebhookSignature)
	switch {
	case id == "" || ts == "" || sig == "":
		return &WebhookError{Reason: WebhookHeaders, Detail: "webhook-id, webhook-timestamp and webhook-signature are required"}
	case len(id) > 256 || len(sig) > 4096:
		return &WebhookError{Reason: WebhookHeaders, Detail: "webhook-id or webhook-signature is too long"}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 {
		return &WebhookError{Reason: WebhookHeaders, Detail: "webhook-timestamp must be Unix seconds"}
	}
	at := time.Unix(unix, 0)
	if d := now.Sub(at); d > WebhookTolerance || d < -WebhookTolerance {
		return &WebhookError{Reason: WebhookTimestamp, Detail: fmt.Sprintf("webhook-timestamp %d is %s away from the receiver's clock (at most %s)", unix, d.Round(time.Second), WebhookTolerance)}
	}
	// The library checks the timestamp against the wall clock; ours is
	// checked above against now, so the signature alone is left to it.
	if err := wh.VerifyIgnoringTimestamp(body, headers); err != nil {
		return &WebhookError{Reason: WebhookSignature, Detail: "no signature in webhook-signature matches the body with this secret"}
	}
	return nil
}

// SignWebhook returns the webhook-signature value for a delivery, as
// Portico computes it (for tests and for senders in other tools).
func SignWebhook(secret, id string, at time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return "", &WebhookError{Reason: WebhookSecret, Detail: "the secret must be whsec_ followed by base64"}
	}
	return wh.Sign(id, at, body)
}

// Event is a CloudEvents 1.0 event as Portico delivers it.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`     // unique per event; the same on redeliveries
	Source          string    `json:"source"` // the block that emitted it, e.g. "/portico/casework"
	Type            string    `json:"type"`   // e.g. "gov.portico.case.transitioned"
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	// Agency is the extension attribute "porticoagency": the agency whose
	// data this is.
	Agency string          `json:"porticoagency,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Decode decodes the event's data into v.
func (e Event) Decode(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("pluginsdk: event %s has no data", e.ID)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("pluginsdk: event %s (%s): %w", e.ID, e.Type, err)
	}
	return nil
}

// ParseEvent decodes a structured-mode CloudEvent and checks the required
// attributes (specversion 1.0, id, source, type).
func ParseEvent(body []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("pluginsdk: the body is not a CloudEvent: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("pluginsdk: the body holds more than one JSON value")
	}
	switch {
	case e.SpecVersion != "1.0":
		return Event{}, fmt.Errorf("pluginsdk: specversion is %q, not 1.0", e.SpecVersion)
	case e.ID == "" || e.Source == "" || e.Type == "":
		return Event{}, errors.New("pluginsdk: id, source and type are required")
	}
	return e, nil
}

// CaseData is the data of every gov.portico.case.* event: the case
// without who works on it or who applied, the applicant as your plug-in's
// pairwise subject (the sub of your call tokens), and a few facts of the
// event by type in Detail (transitioned: transition, from, to; overdue:
// due; payment_requested: amount, currency, due; payment_recorded: amount;
// document_issued: document, valid_until; reminder_set: reminder, due;
// assigned: assigned). Decode it with Event.Decode.
type CaseData struct {
	Case struct {
		ID             string     `json:"id"`
		Reference      string     `json:"reference"`
		Service        string     `json:"service"`
		ServiceVersion int        `json:"service_version"`
		State          string     `json:"state"`
		Overdue        bool       `json:"overdue"`
		WaitingOn      string     `json:"waiting_on,omitempty"`
		OpenedAt       time.Time  `json:"opened_at"`
		ClosedAt       *time.Time `json:"closed_at,omitempty"`
	} `json:"case"`
	// Person is the applicant's pairwise subject for this plug-in.
	Person string         `json:"person,omitempty"`
	Detail map[string]any `json:"detail"`
}

// Event types Portico emits about cases; their data is CaseData. A
// manifest may also ask for a prefix such as "gov.portico.case.*".
const (
	EventCaseOpened           = "gov.portico.case.opened"
	EventCaseTransitioned     = "gov.portico.case.transitioned"
	EventCaseClosed           = "gov.portico.case.closed"
	EventCaseAssigned         = "gov.portico.case.assigned"
	EventCaseInfoRequested    = "gov.portico.case.info_requested"
	EventCaseInfoReceived     = "gov.portico.case.info_received"
	EventCaseMessaged         = "gov.portico.case.messaged"
	EventCaseOverdue          = "gov.portico.case.overdue"
	EventCaseStaffNotified    = "gov.portico.case.staff_notified"
	EventCasePaymentRequested = "gov.portico.case.payment_requested"
	EventCasePaymentRecorded  = "gov.portico.case.payment_recorded"
	EventCaseDocumentIssued   = "gov.portico.case.document_issued"
	EventCaseReminderSet      = "gov.portico.case.reminder_set"
)

// ErrGone, returned by a webhook function, answers 410 Gone: Portico stops
// delivering events to this webhook.
var ErrGone = errors.New("pluginsdk: this webhook no longer takes events")

// RetryAfter, returned by a webhook function, answers 429 Too Many
// Requests with Retry-After: Portico delivers the event again later.
type RetryAfter time.Duration

func (r RetryAfter) Error() string {
	return fmt.Sprintf("pluginsdk: retry after %s", time.Duration(r))
}

// WebhookHandler verifies and decodes events and hands them to Handle.
type WebhookHandler struct {
	// Secret is the whsec_ secret Portico showed at registration.
	Secret string
	// Handle handles one event. It may be called more than once for the
	// same Event.ID (delivery is at least once) and must be idempotent.
	// nil → 204; ErrGone → 410; a RetryAfter → 429; else → 500 (Portico
	// retries with backoff).
	Handle func(ctx context.Context, e Event) error
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ServeHTTP answers 405 to anything but POST, 413 to bodies above
// MaxWebhookBody, 401 to a bad signature or timestamp, 415 to another
// content type, 400 to a body that is not a CloudEvent, all with
// problem+json; then it calls Handle.
func (h WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteProblem(w, Problem{Status: http.StatusMethodNotAllowed, Detail: "events are delivered with POST"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		WriteProblem(w, Problem{Status: http.StatusBadRequest, Detail: "the body could not be read"})
		return
	}
	if len(body) > MaxWebhookBody {
		WriteProblem(w, Problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body is larger than %d bytes", MaxWebhookBody)})
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	if err := VerifyWebhook(h.Secret, r.Header, body, now()); err != nil {
		var we *WebhookError
		errors.As(err, &we)
		slog.WarnContext(r.Context(), "pluginsdk: webhook refused", "reason", we.Reason, "webhook_id", r.Header.Get(HeaderWebhookID))
		if we.Reason == WebhookSecret { // the receiver's configuration, not the sender
			WriteProblem(w, Problem{Status: http.StatusInternalServerError, Reason: string(we.Reason), Detail: "the receiver's webhook secret is misconfigured"})
			return
		}
		WriteProblem(w, Problem{Status: http.StatusUnauthorized, Reason: string(we.Reason), Detail: we.Detail})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeCloudEvents {
		WriteProblem(w, Problem{Status: http.StatusUnsupportedMediaType, Detail: "events are sent as " + ContentTypeCloudEvents + " (CloudEvents structured mode)"})
		return
	}
	e, err := ParseEvent(body)
	if err != nil {
		WriteProblem(w, Problem{Status: http.StatusBadRequest, Detail: err.Error()})
		return
	}
	err = h.Handle(r.Context(), e)
	var ra RetryAfter
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrGone):
		WriteProblem(w, Problem{Status: http.StatusGone, Detail: "this webhook no longer takes events"})
	case errors.As(err, &ra):
		secs := int64((time.Duration(ra) + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		WriteProblem(w, Problem{Status: http.StatusTooManyRequests, Detail: "slow down; try again after Retry-After seconds"})
	default:
		slog.ErrorContext(r.Context(), "pluginsdk: webhook handler failed", "event", e.ID, "type", e.Type, "err", err)
		WriteProblem(w, Problem{Status: http.StatusInternalServerError, Detail: "the event could not be handled; deliver it again later"})
	}
}
