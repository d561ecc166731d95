// Package events carries domain events from the block that caused them to
// the consumers that react to them (other blocks today; webhooks and NATS
// JetStream for plug-ins later). Events use CloudEvents 1.0 attribute names.
//
// Contract: Emit is called inside the transaction of the state change. It
// stores one delivery job per matching consumer in that transaction, so an
// event is delivered if and only if its change committed, and never before
// the commit. Delivery is at least once, per consumer, with River's retries;
// consumers make their effects idempotent with Once.
package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// Event is a fact that happened, in CloudEvents 1.0 terms.
type Event struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`  // the block, e.g. "/portico/tenancy"
	Type        string          `json:"type"`    // e.g. "gov.portico.agency.created"
	Subject     string          `json:"subject"` // the thing it is about
	Time        time.Time       `json:"time"`
	SpecVersion string          `json:"specversion"`
	AgencyID    string          `json:"portico_agency,omitempty"` // extension: tenancy
	Data        json.RawMessage `json:"data,omitempty"`
}

// Handler reacts to one event. It may be called more than once for the same
// event and must be idempotent (see Once).
type Handler func(ctx context.Context, e Event) error

// Consumer is a named subscription to event types. Types ending in "*" match
// by prefix.
type Consumer struct {
	Name   string
	Types  []string
	Handle Handler
}

func (c Consumer) matches(eventType string) bool {
	for _, t := range c.Types {
		if t == eventType || (strings.HasSuffix(t, "*") && strings.HasPrefix(eventType, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

// Bus routes events to consumers through durable jobs.
type Bus struct {
	mu        sync.RWMutex
	consumers map[string]Consumer
	jobs      *jobs.Client
	clock     platform.Clock
}

// NewBus returns a bus and registers its delivery worker in reg.
func NewBus(reg *jobs.Registry, clock platform.Clock) *Bus {
	b := &Bus{consumers: map[string]Consumer{}, clock: clock}
	jobs.Register(reg, &deliveryWorker{bus: b})
	return b
}

// SetJobs gives the bus the client it enqueues with (created after the
// registry is complete).
func (b *Bus) SetJobs(c *jobs.Client) { b.jobs = c }

// Subscribe adds a consumer. Consumer names must be unique and stable: they
// key the idempotency receipts.
func (b *Bus) Subscribe(c Consumer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.consumers[c.Name]; dup {
		panic("events: duplicate consumer " + c.Name) // a wiring bug, found at start-up
	}
	b.consumers[c.Name] = c
}

// Emit records e for delivery to every matching consumer, in tx.
func (b *Bus) Emit(ctx context.Context, tx *sql.Tx, e Event) error {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	if e.Time.IsZero() {
		e.Time = b.clock.Now()
	}
	e.SpecVersion = "1.0"
	b.mu.RLock()
	defer b.mu.RUnlock()
	for name, c := range b.consumers {
		if !c.matches(e.Type) {
			continue
		}
		if err := jobs.Enqueue(ctx, b.jobs, tx, DeliveryArgs{Consumer: name, Event: e}, nil); err != nil {
			return fmt.Errorf("events: emit %s: %w", e.Type, err)
		}
	}
	return nil
}

// DeliveryArgs is the job that hands one event to one consumer.
type DeliveryArgs struct {
	Consumer string `json:"consumer"`
	Event    Event  `json:"event"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return "event.deliver" }

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	bus *Bus
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	w.bus.mu.RLock()
	c, ok := w.bus.consumers[job.Args.Consumer]
	w.bus.mu.RUnlock()
	if !ok {
		// The consumer was removed in a newer release; nothing will ever
		// handle this delivery, so do not retry it.
		return river.JobCancel(fmt.Errorf("events: no consumer %q", job.Args.Consumer))
	}
	return c.Handle(ctx, job.Args.Event)
}

// Once runs fn in a transaction at most once per (consumer, event id): it
// records a receipt in the same transaction as fn's effects, so a retried
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
