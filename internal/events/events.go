// Package events keeps Portico's domain events as a durable, ordered log
// and carries them to named consumers (other blocks today; webhooks and NATS
// JetStream for plug-ins later). Events use CloudEvents 1.0 attributes.
//
// Contract:
//   - Emit is called inside the transaction of the state change. It appends
//     the event to the log in that transaction, so an event exists if and
//     only if its change committed, and nobody sees it before the commit.
//   - A sequencer gives committed events their position in the log after
//     commit (ADR 19), so positions only ever grow in the order consumers
//     can see them: a consumer that has read up to N never misses an event
//     that commits later.
//   - Each consumer keeps a cursor (the last position it handled). Its
//     handler runs for every matching event after the cursor, in order; the
//     cursor moves only past events whose handler succeeded (it is stored
//     once per batch read). Delivery is therefore at least once: a crash
//     between a handler's success and the cursor's move delivers that event
//     again. Handlers make their effects idempotent with Once.
//   - A failing handler is retried with backoff; it holds up only its own
//     consumer. One process at a time drives a consumer (a lease on its
//     cursor row), however many worker replicas run.
//   - An operator can move a consumer's cursor back (Replay) to have it
//     handle events again.
package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// SpecVersion is the CloudEvents version of every event.
const SpecVersion = "1.0"

// Event is a fact that happened, in CloudEvents 1.0 terms.
type Event struct {
	ID              string    `json:"id"`
	Source          string    `json:"source"`  // the block, e.g. "/portico/tenancy"
	Type            string    `json:"type"`    // e.g. "gov.portico.agency.created"
	Subject         string    `json:"subject"` // the thing it is about
	Time            time.Time `json:"time"`
	SpecVersion     string    `json:"specversion"`
	DataContentType string    `json:"datacontenttype,omitempty"` // "application/json" when Data is set
	// AgencyID is the extension attribute "porticoagency" (CloudEvents
	// extension names are lower-case letters and digits only): the agency
	// whose data this is, for tenancy-scoped consumers.
	AgencyID string          `json:"porticoagency,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`

	// Position is the event's place in the log, set when it is read back
	// (0 before it has been sequenced). It is not a CloudEvents attribute.
	Position int64 `json:"-"`
}

// Handler reacts to one event. It may be called more than once for the same
// event and must be idempotent (see Once). It should return promptly when
// ctx ends: the dispatcher's lease on the consumer is only good for a while.
type Handler func(ctx context.Context, e Event) error

// Consumer is a named subscription to event types. Types ending in "*" match
// by prefix. The name keys the consumer's cursor and its idempotency
// receipts, so it must be stable across releases.
type Consumer struct {
	Name   string
	Types  []string
	Handle Handler
	// Backoff, when set, replaces DispatchConfig.Backoff for this
	// consumer: the wait before the next attempt after its nth consecutive
	// failure. A consumer whose failures are outages of something outside
	// (a message broker) retries sooner than the default's n⁴ seconds.
	Backoff func(n int) time.Duration
}

func (c Consumer) matches(eventType string) bool {
	for _, t := range c.Types {
		if t == eventType || (strings.HasSuffix(t, "*") && strings.HasPrefix(eventType, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// Bus appends events to the log and knows the consumers the dispatcher
// drives. It holds no database handle: Emit writes in the caller's
// transaction.
type Bus struct {
	mu        sync.RWMutex
	consumers map[string]Consumer
	clock     platform.Clock
}

// NewBus returns a bus with no consumers.
func NewBus(clock platform.Clock) *Bus {
	if clock == nil {
		panic("events: NewBus needs a clock") // a wiring bug, found at start-up
	}
	return &Bus{consumers: map[string]Consumer{}, clock: clock}
}

// Subscribe adds a consumer. Consumer names must be unique and stable: they
// key the cursors and the idempotency receipts.
func (b *Bus) Subscribe(c Consumer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.Name == "" || c.Handle == nil || len(c.Types) == 0 {
		panic("events: a consumer needs a name, types and a handler") // a wiring bug
	}
	if _, dup := b.consumers[c.Name]; dup {
		panic("events: duplicate consumer " + c.Name) // a wiring bug, found at start-up
	}
	b.consumers[c.Name] = c
}

// Consumers returns the subscribed consumers.
func (b *Bus) Consumers() []Consumer {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]Consumer, 0, len(b.consumers))
	for _, c := range b.consumers {
		out = append(out, c)
	}
	return out
}

// Emit appends e to the log in tx. It fills in the id (a UUIDv7), the time
// and the spec version when they are empty. Source and Type are required,
// and Data, when present, must be JSON.
func (b *Bus) Emit(ctx context.Context, tx *sql.Tx, e Event) error {
	if e.Source == "" || e.Type == "" {
		return fmt.Errorf("events: emit: an event needs a source and a type (got source %q, type %q)", e.Source, e.Type)
	}
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	if e.Time.IsZero() {
		e.Time = b.clock.Now()
	}
	e.SpecVersion = SpecVersion
	data := ""
	if len(e.Data) > 0 {
		if !json.Valid(e.Data) {
			return fmt.Errorf("events: emit %s: data is not JSON", e.Type)
		}
		data = string(e.Data)
		if e.DataContentType == "" {
			e.DataContentType = "application/json"
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO event_log (event_id, source, type, subject, occurred_at, specversion, datacontenttype, agency_id, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.Source, e.Type, e.Subject, e.Time.UTC(), e.SpecVersion, e.DataContentType, e.AgencyID, data)
	if err != nil {
		if storage.IsUniqueViolation(err) {
			return fmt.Errorf("events: emit %s: event id %s is already in the log", e.Type, e.ID)
		}
		return fmt.Errorf("events: emit %s: %w", e.Type, err)
	}
	return nil
}

// Once runs fn in a transaction at most once per (consumer, event id): it
// records a receipt in the same transaction as fn's effects, so a repeated
// delivery after a crash either finds the receipt (and does nothing) or
// finds neither receipt nor effects (and does the work).
func Once(ctx context.Context, db *storage.DB, consumer, eventID string, now time.Time, fn func(tx *sql.Tx) error) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO event_receipts (consumer, event_id, handled_at) VALUES ($1, $2, $3) ON CONFLICT (consumer, event_id) DO NOTHING`,
			consumer, eventID, now)
		if err != nil {
			return fmt.Errorf("events: receipt: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("events: receipt: %w", err)
		} else if n == 0 {
			return nil // already handled
		}
		return fn(tx)
	})
}

// errLeaseLost: another process took the consumer over, or an operator
// moved its cursor, while this one was handling events.
var errLeaseLost = errors.New("events: consumer lease lost or cursor moved")
