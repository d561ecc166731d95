// Package webhook is the block that delivers the platform's domain events
// to plug-ins by webhook (ADR 33). One events consumer ("webhooks") reads
// the log; for each event it fans out, in one transaction with
// events.Once, a delivery row and a River job per plug-in that asked for
// the event's type, has a webhook, and is enabled by the event's agency
// (an event of no agency goes to no plug-in). The job POSTs the event as a
// CloudEvents 1.0 structured-mode request, signed the Standard Webhooks
// way, and retries with River's exponential backoff and jitter:
//
//   - 2xx: delivered;
//   - 410 Gone: stopped: nothing more goes to that plug-in for that
//     agency until the agency enables it again (recorded, audited);
//   - 429 with Retry-After (seconds or an HTTP date): snoozed that long,
//     without counting as a failed attempt;
//   - anything else, a timeout or a connection error: retried, and after
//     the last attempt the delivery is a dead letter, which an operator,
//     a platform administrator or an administrator of the agency can
//     replay (audited).
//
// Payloads are minimal and documented per type (payload.go): the person
// is the plug-in's pairwise subject (the gateway's), never an account id,
// and no personal data goes out by webhook.
//
// Tables: webhook_deliveries, webhook_stops (migration 00028).
package webhook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/portico-gov/portico/internal/audit"
	"github.com/portico-gov/portico/internal/events"
	"github.com/portico-gov/portico/internal/jobs"
	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/plugin"
	"github.com/portico-gov/portico/internal/secrets"
	"github.com/portico-gov/portico/internal/storage"
)

// ConsumerName is the events consumer that fans events out to plug-ins.
// It keys a cursor and idempotency receipts: never rename it.
const ConsumerName = "webhooks"

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusDead      = "dead"
	StatusStopped   = "stopped"
)

// Registry is what the block needs of the plug-in registry.
type Registry interface {
	Subscribers(ctx context.Context, agency, eventType, pluginID string) ([]plugin.Subscriber, error)
	WebhookSecret(ctx context.Context, actor platform.Actor, pluginID string) (string, error)
	EnabledBy(ctx context.Context, pluginID string) ([]string, error)
}

// Config tunes delivery; zero values take the defaults.
type Config struct {
	// EventTypes are the types the consumer reads: every type plug-ins
	// may ask for (internal/app lists them). Required.
	EventTypes []string
	// Timeout bounds one attempt (connect, send, answer). Default 10s.
	Timeout time.Duration
	// MaxAttempts before a delivery is a dead letter. Default 13, which
	// with River's backoff (attempt⁴ seconds, ±10% jitter) spans about
	// 24 hours.
	MaxAttempts int
	// Backoff, when set, replaces River's backoff: the wait after the
	// nth failed attempt (tests use a short one).
	Backoff func(attempt int) time.Duration
	// MaxSnooze is the longest Retry-After honoured; longer ones wait
	// this long. Default 24h.
	MaxSnooze time.Duration
	// Client sends the requests (default: no redirects followed).
	Client *http.Client
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 13
	}
	if c.MaxSnooze <= 0 {
		c.MaxSnooze = 24 * time.Hour
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Service is the webhook block.
type Service struct {
	db      *storage.DB
	log     *audit.Log
	clock   platform.Clock
	box     *secrets.Box
	reg     Registry
	ins     *jobs.Inserter
	metrics *Metrics
	cfg     Config
}

// New returns the block, subscribes its consumer to bus and registers its
// delivery worker in jreg. metrics may be nil.
func New(db *storage.DB, log *audit.Log, clock platform.Clock, box *secrets.Box, reg Registry, bus *events.Bus,
	ins *jobs.Inserter, jreg *jobs.Registry, metrics *Metrics, cfg Config) (*Service, error) {
	if err := platform.Required("webhook", platform.Dep{Name: "database", Missing: db == nil}, platform.Dep{Name: "audit log", Missing: log == nil},
		platform.Dep{Name: "clock", Missing: clock == nil}, platform.Dep{Name: "secrets box", Missing: box == nil},
		platform.Dep{Name: "plug-in registry", Missing: reg == nil}, platform.Dep{Name: "event bus", Missing: bus == nil},
		platform.Dep{Name: "job inserter", Missing: ins == nil}, platform.Dep{Name: "job registry", Missing: jreg == nil}); err != nil {
		return nil, err
	}
	if len(cfg.EventTypes) == 0 {
		return nil, errors.New("webhook: no event types to deliver")
	}
	cfg.defaults()
	if metrics == nil {
		metrics = NewMetrics(db)
	}
	s := &Service{db: db, log: log, clock: clock, box: box, reg: reg, ins: ins, metrics: metrics, cfg: cfg}
	bus.Subscribe(events.Consumer{Name: ConsumerName, Types: cfg.EventTypes, Handle: s.FanOut})
	jobs.Register(jreg, &worker{s: s})
	return s, nil
}

// system is the actor the deliverer acts as.
var system = platform.Actor{Kind: platform.ActorSystem, ID: "webhook"}

// FanOut is the consumer's handler: it records a delivery and enqueues its
// job for each plug-in that receives e, once per event (events.Once; the
// unique (event, plug-in) pair guards it too).
func (s *Service) FanOut(ctx context.Context, e events.Event) error {
	only, ok := consentPlugin(e)
	if !ok {
		// Not an error: retrying would hold up every later event.
		s.cfg.Logger.Warn("webhook: a consent event names no plug-in; sent to none", "event", e.ID)
		return nil
	}
	subs, err := s.reg.Subscribers(ctx, e.AgencyID, e.Type, only)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return nil
	}
	now := s.clock.Now().UTC()
	return events.Once(ctx, s.db, ConsumerName, e.ID, now, func(tx *sql.Tx) error {
		for _, sub := range subs {
			stopped, err := s.stopped(ctx, tx, sub)
			if err != nil {
				return err
			}
			if stopped {
				continue
			}
			body, err := s.body(sub.Plugin, e)
			if err != nil {
				return err
			}
			id := uuid.Must(uuid.NewV7()).String()
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, event_id, event_type, event_time, plugin_id, agency_id, url, body, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (event_id, plugin_id) DO NOTHING`,
				id, e.ID, e.Type, e.Time.UTC(), sub.Plugin, sub.Agency, sub.Webhook, string(body), StatusPending, now)
			if err != nil {
				return fmt.Errorf("webhook: record delivery: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("webhook: record delivery: %w", err)
			} else if n == 0 {
				continue // already fanned out
			}
			if err := s.enqueue(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, id string) error {
	return jobs.Enqueue(ctx, s.ins, tx, DeliverArgs{DeliveryID: id}, &river.InsertOpts{MaxAttempts: s.cfg.MaxAttempts})
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stopped reports whether the plug-in answered 410 for the agency after
// the agency last enabled it.
func (s *Service) stopped(ctx context.Context, q querier, sub plugin.Subscriber) (bool, error) {
	var at time.Time
	err := q.QueryRowContext(ctx, `SELECT stopped_at FROM webhook_stops WHERE plugin_id = $1 AND agency_id = $2`, sub.Plugin, sub.Agency).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("webhook: stops: %w", err)
	}
	return !at.Before(sub.ApprovedAt), nil
}
