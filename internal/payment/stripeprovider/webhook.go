package stripeprovider

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/portico-gov/portico/internal/payment"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
	"github.com/portico-gov/portico/internal/web"
)

// WebhookPath is where Stripe sends events (the endpoint an operator
// creates in Stripe's dashboard: https://PUBLIC-URL/webhooks/stripe).
const WebhookPath = "/webhooks/stripe"

// Tolerance is how old a signed event may be: Stripe's default. An
// event signed longer ago is refused as stale, so a captured delivery
// cannot be replayed later; within it, the recorded event id refuses it.
const Tolerance = 300 * time.Second

// MaxEventBytes bounds a webhook body. Stripe's events of the types
// Portico reads are a few kilobytes; the shell's 1 MiB is for pages.
const MaxEventBytes = 256 << 10

// Event is what Portico reads from a verified Stripe event: its id and
// type, and the charge it is about: a Checkout Session (Session), or a
// PaymentIntent (PaymentIntent) whose session must be looked up.
type Event struct {
	ID            string
	Type          string
	Session       string
	PaymentIntent string
}

// Acts reports whether Portico acts on the event: checkout.session.*,
// payment_intent.* and charge.refunded events. Any other type is
// acknowledged and ignored.
func (e Event) Acts() bool {
	return strings.HasPrefix(e.Type, "checkout.session.") || strings.HasPrefix(e.Type, "payment_intent.") || e.Type == "charge.refunded"
}

// Refusals of ParseEvent, each a client's mistake (400).
var (
	ErrUnsigned     = platform.Errorf(platform.CodeInvalid, "the request has no Stripe-Signature header")
	ErrBadSignature = platform.Errorf(platform.CodeInvalid, "the Stripe-Signature header does not match the body with this endpoint's signing secret")
	ErrStale        = platform.Errorf(platform.CodeInvalid, "the event was signed more than 300 seconds ago")
	ErrMalformed    = platform.Errorf(platform.CodeInvalid, "the body is not a Stripe event Portico can read")
)

// ParseEvent verifies payload against the Stripe-Signature header with
// the endpoint's signing secret (stripe-go's webhook package: HMAC-SHA256
// over "timestamp.body", compared in constant time, timestamp within
// Tolerance) and reads the event. The event's API version is not
// compared with stripe-go's: Portico reads only the event's id, type and
// object id from it and asks Stripe for the charge's true state, so an
// endpoint set to another API version works.
func ParseEvent(payload []byte, header, secret string) (Event, error) {
	if header == "" {
		return Event{}, ErrUnsigned
	}
	if secret == "" {
		return Event{}, ErrBadSignature
	}
	ev, err := webhook.ConstructEventWithOptions(payload, header, secret, webhook.ConstructEventOptions{Tolerance: Tolerance, IgnoreAPIVersionMismatch: true})
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return Event{}, ErrUnsigned
	case errors.Is(err, webhook.ErrTooOld):
		return Event{}, ErrStale
	case errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return Event{}, ErrBadSignature
	case err != nil:
		return Event{}, ErrMalformed
	}
	out := Event{ID: ev.ID, Type: string(ev.Type)}
	if out.ID == "" || out.Type == "" || ev.Data == nil {
		return Event{}, ErrMalformed
	}
	if !out.Acts() {
		return out, nil
	}
	var obj struct {
		ID            string          `json:"id"`
		Object        string          `json:"object"`
		PaymentIntent json.RawMessage `json:"payment_intent"`
	}
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil {
		return Event{}, ErrMalformed
	}
	switch {
	case strings.HasPrefix(out.Type, "checkout.session.") && obj.Object == "checkout.session" && obj.ID != "":
		out.Session = obj.ID
	case strings.HasPrefix(out.Type, "payment_intent.") && obj.Object == "payment_intent" && obj.ID != "":
		out.PaymentIntent = obj.ID
	case out.Type == "charge.refunded" && obj.Object == "charge":
		// payment_intent is an id, or the intent itself when expanded.
		var id string
		if json.Unmarshal(obj.PaymentIntent, &id) != nil {
			var pi struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(obj.PaymentIntent, &pi) == nil {
				id = pi.ID
			}
		}
		out.PaymentIntent = id // "" for a charge made without an intent: not Portico's
	default:
		return Event{}, ErrMalformed
	}
	return out, nil
}

// Charges is what the webhook asks Stripe: the true state of a session,
// and which session a PaymentIntent belongs to (the Provider).
type Charges interface {
	Status(ctx context.Context, ref string) (payment.Outcome, error)
	SessionOf(ctx context.Context, paymentIntent string) (string, error)
}

// Webhook serves POST /webhooks/stripe.
//
// Contract: an event is acted on only if it is signed with Secret, was
// signed within Tolerance, and its id has not been processed before.
// It is never believed: the handler reads the charge's true state from
// Stripe (Charges.Status) and settles the checkout to it
// (payment.Service.SettleRefTx), recording the event's id in the same
// transaction, so an event is acted on once or, if anything fails, not
// at all (Stripe retries it). A repeated event id is answered 200
// without acting (see ServeHTTP); a type Portico does not act on is
// answered 200 and recorded as ignored.
type Webhook struct {
	Secret   string // the endpoint's signing secret (whsec_…)
	Charges  Charges
	Payments *payment.Service
	DB       *storage.DB
	Clock    platform.Clock
	Logger   *slog.Logger
}

// actor is who settles checkouts from Stripe's events, in the audit log.
var actor = platform.Actor{Kind: platform.ActorSystem, ID: "stripe.webhook"}

// Register serves the webhook at WebhookPath. Stripe's servers are not a
// browser and carry no cookie: the route authenticates every request by
// its signature, so it is exempt from the shell's cross-origin check like
// the other machine endpoints.
func Register(s *web.Server, h *Webhook) error {
	if err := platform.Required("stripe webhook",
		platform.Dep{Name: "signing secret", Missing: h.Secret == ""},
		platform.Dep{Name: "Stripe", Missing: h.Charges == nil},
		platform.Dep{Name: "payments", Missing: h.Payments == nil},
		platform.Dep{Name: "database", Missing: h.DB == nil},
		platform.Dep{Name: "clock", Missing: h.Clock == nil}); err != nil {
		return err
	}
	if h.Logger == nil {
		h.Logger = s.Logger()
	}
	s.Handle("POST "+WebhookPath, h)
	s.AllowCrossOrigin("POST " + WebhookPath)
	return nil
}

// Outcomes of a processed event, as provider_webhook_events records them.
const (
	outcomeSettled = "settled"
	outcomeIgnored = "ignored"
)

var errDuplicate = errors.New("stripe webhook: event already processed")

// ServeHTTP implements http.Handler.
//
// A replayed event (an id already processed) is refused: nothing is done
// with it. It is answered 200 {"received":true,"duplicate":true} rather
// than with an error because Stripe itself redelivers an event whose
// acknowledgement it did not get, and retries any non-2xx answer for
// three days: an error would keep a processed event failing in Stripe's
// dashboard and in its retries.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = platform.Errorf(platform.CodeInvalid, "the body could not be read")
		}
		web.WriteProblem(w, r, h.Logger, err)
		return
	}
	ev, err := ParseEvent(body, r.Header.Get("Stripe-Signature"), h.Secret)
	if err != nil {
		web.WriteProblem(w, r, h.Logger, err)
		return
	}
	// The audit log names who moved the payments: Stripe's webhook.
	ctx := platform.WithActor(r.Context(), actor)
	if seen, err := h.seen(ctx, ev.ID); err != nil {
		web.WriteProblem(w, r, h.Logger, err)
		return
	} else if seen {
		web.WriteJSON(w, http.StatusOK, map[string]any{"received": true, "duplicate": true})
		return
	}
	ref := ev.Session
	if ev.Acts() && ref == "" && ev.PaymentIntent != "" {
		if ref, err = h.Charges.SessionOf(ctx, ev.PaymentIntent); err != nil {
			web.WriteProblem(w, r, h.Logger, h.unavailable(ctx, ev, err))
			return
		}
	}
	var o payment.Outcome
	if ev.Acts() && ref != "" {
		if o, err = h.Charges.Status(ctx, ref); err != nil {
			web.WriteProblem(w, r, h.Logger, h.unavailable(ctx, ev, err))
			return
		}
	}
	// Stripe is asked before the transaction opens, so no database
	// transaction waits on the network.
	err = h.DB.InTx(ctx, func(tx *sql.Tx) error {
		outcome := outcomeIgnored
		if ev.Acts() && ref != "" {
			outcome = outcomeSettled
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO provider_webhook_events (provider, event_id, event_type, provider_ref, outcome, received_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, event_id) DO NOTHING`, Name, ev.ID, ev.Type, ref, outcome, h.Clock.Now().UTC())
		if err != nil {
			return fmt.Errorf("stripe webhook: record event: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("stripe webhook: record event: %w", err)
		} else if n == 0 {
			// Processed by a concurrent delivery of the same event since
			// seen looked.
			return errDuplicate
		}
		if outcome == outcomeIgnored {
			return nil
		}
		_, err = h.Payments.SettleRefTx(ctx, tx, actor, Name, ref, o)
		if platform.ErrorCode(err) == platform.CodeNotFound {
			// A session of the account that is not a Portico checkout
			// (another system sharing the account): not ours to settle.
			_, err = tx.ExecContext(ctx, `UPDATE provider_webhook_events SET outcome = $1 WHERE provider = $2 AND event_id = $3`, outcomeIgnored, Name, ev.ID)
		}
		return err
	})
	switch {
	case errors.Is(err, errDuplicate):
		web.WriteJSON(w, http.StatusOK, map[string]any{"received": true, "duplicate": true})
	case err != nil:
		if platform.ErrorCode(err) == platform.CodeConflict {
			// Stripe's state contradicts Portico's (say, a payment
			// Portico has as submitted that Stripe reports as started):
			// nothing was recorded, Stripe retries, an operator looks.
			h.Logger.WarnContext(ctx, "stripe webhook: Stripe's state contradicts the checkout's", "event", ev.ID, "type", ev.Type, "ref", ref, "err", err)
		}
		web.WriteProblem(w, r, h.Logger, err)
	default:
		web.WriteJSON(w, http.StatusOK, map[string]any{"received": true})
	}
}

func (h *Webhook) seen(ctx context.Context, id string) (bool, error) {
	var n int
	err := h.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM provider_webhook_events WHERE provider = $1 AND event_id = $2`, Name, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("stripe webhook: %w", err)
	}
	return n > 0, nil
}

// unavailable makes a failure to read Stripe a 503: Stripe retries the
// event later, and nothing has been recorded.
func (h *Webhook) unavailable(ctx context.Context, ev Event, err error) error {
	if errors.Is(err, payment.ErrProviderUnavailable) {
		h.Logger.WarnContext(ctx, "stripe webhook: Stripe is not answering; the event waits for Stripe's retry", "event", ev.ID, "type", ev.Type, "err", err)
		return platform.Errorf(platform.CodeUnavailable, "Stripe is not answering; the event was not processed and may be sent again")
	}
	return err
}
