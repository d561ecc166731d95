// Package natsbus publishes Portico's event log to NATS JetStream (`--bus
// nats://…`, ADR 34). It is one events consumer ("nats") subscribed to
// every type, so it inherits the log's guarantees: events in log order, at
// least once, nothing published for a transaction that rolled back.
//
// Contract:
//   - Each event is published to the subject "PREFIX.TYPE" (PREFIX is
//     DefaultSubjects, "portico.events", unless configured):
//     "portico.events.gov.portico.case.opened", as CloudEvents 1.0 JSON in
//     structured mode (header Content-Type: application/cloudevents+json),
//     with the event id as the JetStream message id (Nats-Msg-Id).
//   - The handler returns only after JetStream acknowledged the message, so
//     the consumer's cursor moves past an event only once the stream holds
//     it. A re-publish after a crash or an operator's replay is dropped by
//     the server as a duplicate when it falls inside the stream's duplicate
//     window; outside it, stream readers see the event again and dedupe by
//     its id, as every at-least-once reader must.
//   - While NATS is unreachable the handler fails at once (nothing is
//     buffered in memory), the cursor stays where it is and the events wait
//     in the log; the connection reconnects by itself and publishing goes on
//     from the cursor.
//   - The stream (file storage, subjects "PREFIX.>") is created or
//     updated when the publisher opens, or at the first publish if NATS was
//     down then.
package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-gov/portico/internal/config"
	"github.com/portico-gov/portico/internal/events"
)

const (
	// ConsumerName names the events consumer (its cursor in
	// event_consumers; `portico events replay nats --from N`). Stable.
	ConsumerName = "nats"
	// DefaultSubjects is put, with a dot, before an event's type to make
	// its subject.
	DefaultSubjects = "portico.events"
	// DefaultStream is the JetStream stream the events are kept in.
	DefaultStream = "PORTICO_EVENTS"
	// DefaultDuplicateWindow is how long the stream remembers message ids
	// to drop re-publishes. It covers a crash between a publish and the
	// cursor's move (the cursor is stored at least every lease/3 = 10 s,
	// and another worker takes over within the 30 s lease) with a wide
	// margin. Longer windows cost the server memory per message.
	DefaultDuplicateWindow = 10 * time.Minute
	// ContentType is the structured-mode CloudEvents media type.
	ContentType = "application/cloudevents+json"
)

// Config says where and how to publish.
type Config struct {
	// URL is the NATS server: nats://host:port (tls:// for TLS), or a
	// comma-separated list of them for a cluster. User and password may be
	// given in the URL.
	URL string
	// Stream is the JetStream stream's name. Default DefaultStream.
	Stream string
	// Subjects is the subject prefix (tokens without wildcards, no
	// trailing dot). Default DefaultSubjects. Two Portico installations
	// sharing one NATS account need different prefixes and streams.
	Subjects string
	// DuplicateWindow is the stream's duplicate window. Default
	// DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// ReconnectWait is the pause between reconnection attempts. Default 1s.
	ReconnectWait time.Duration
	Logger        *slog.Logger
}

// Redact hides the password of a URL (or a list of them) for logs.
func Redact(raw string) string { return config.RedactURLs(raw) }

// Subject is the NATS subject an event of type typ is published to under
// prefix. The type's dots are kept, so subscribers can use wildcards
// ("portico.events.gov.portico.case.>"). A type that cannot be part of a
// subject (empty tokens, spaces, '*' or '>') is an error: Portico's own
// types never are, and publishing it elsewhere would hide it from
// subscribers.
func Subject(prefix, typ string) (string, error) {
	if !validTokens(typ) {
		return "", fmt.Errorf("natsbus: event type %q cannot be part of a NATS subject", typ)
	}
	return prefix + "." + typ, nil
}

// validTokens reports whether s is one or more dot-separated non-empty
// subject tokens without wildcards or white space.
func validTokens(s string) bool {
	return s != "" && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..") &&
		!strings.ContainsAny(s, " \t\r\n\f\v*>\x00")
}

// cloudEvent is the structured-mode body: the event's CloudEvents 1.0
// attributes, its data, and the extension "porticoposition" (its place in
// Portico's log, for readers that want to check order or resume).
type cloudEvent struct {
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	SpecVersion     string          `json:"specversion"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Agency          string          `json:"porticoagency,omitempty"`
	Position        int64           `json:"porticoposition"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// Body encodes e as a structured-mode CloudEvent.
func Body(e events.Event) ([]byte, error) {
	return json.Marshal(cloudEvent{
		ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time.UTC(), SpecVersion: e.SpecVersion,
		DataContentType: e.DataContentType, Agency: e.AgencyID, Position: e.Position, Data: e.Data,
	})
}

// Publisher is the NATS side of the consumer.
type Publisher struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream

	mu      sync.Mutex
	ensured bool // the stream was created or updated on this connection

	published, duplicates, failures prometheus.Counter
	connected                       prometheus.GaugeFunc
}

// Open connects to NATS and returns the publisher. It does not wait for
// NATS: when the server is unreachable it keeps trying in the background
// and publishing fails (and is retried by the dispatcher) until it is
// reached. When NATS answers at once, the stream is created or updated
// here, and a stream that cannot be (a name taken with other settings) is
// an error.
func Open(ctx context.Context, cfg Config) (*Publisher, error) {
	if err := config.ValidateBus(cfg.URL); err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if strings.ContainsAny(cfg.Stream, " \t\r\n.*>/\\\x00") {
		return nil, fmt.Errorf("natsbus: stream name %q must not contain white space, '.', '*', '>', '/' or '\\'", cfg.Stream)
	}
	if cfg.Subjects == "" {
		cfg.Subjects = DefaultSubjects
	}
	if !validTokens(cfg.Subjects) {
		return nil, fmt.Errorf("natsbus: subject prefix %q must be dot-separated tokens without wildcards, e.g. portico.events", cfg.Subjects)
	}
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "natsbus", "nats", Redact(cfg.URL))
	p := &Publisher{cfg: cfg}
	p.published = prometheus.NewCounter(prometheus.CounterOpts{Name: "portico_bus_published_total",
		Help: "Events published to NATS JetStream and acknowledged by the stream."})
	p.duplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "portico_bus_duplicates_total",
		Help: "Re-published events the stream dropped as duplicates (same event id within the duplicate window)."})
	p.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "portico_bus_failures_total",
		Help: "Failed attempts to publish an event to NATS JetStream (retried; the event waits in the log)."})
	nc, err := nats.Connect(cfg.URL,
		nats.Name("portico"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		// No buffering while disconnected: a publish then fails at once
		// and the event stays in the log, instead of waiting in memory.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			cfg.Logger.Warn("disconnected from NATS; events wait in the log", "error", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			cfg.Logger.Info("reconnected to NATS")
			p.mu.Lock()
			p.ensured = false // the server may be a new one, without the stream
			p.mu.Unlock()
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect to %s: %w", Redact(cfg.URL), err)
	}
	p.nc = nc
	p.connected = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portico_bus_connected",
		Help: "1 while the process is connected to NATS, else 0."}, func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	})
	if p.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	if nc.IsConnected() {
		if err := p.ensureStream(ctx); err != nil {
			nc.Close()
			return nil, err
		}
	} else {
		cfg.Logger.Warn("NATS is not reachable yet; events wait in the log until it is")
	}
	return p, nil
}

// StreamConfig is the stream the publisher creates or updates.
func (p *Publisher) StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        p.cfg.Stream,
		Description: "Portico's domain events (CloudEvents JSON), one subject per event type",
		Subjects:    []string{p.cfg.Subjects + ".>"},
		Storage:     jetstream.FileStorage,
		Duplicates:  p.cfg.DuplicateWindow,
	}
}

func (p *Publisher) ensureStream(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ensured {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := p.js.CreateOrUpdateStream(ctx, p.StreamConfig()); err != nil {
		return fmt.Errorf("natsbus: create or update stream %s: %w", p.cfg.Stream, err)
	}
	p.ensured = true
	return nil
}

// Consumer is the events consumer that publishes every event. Its
// failures (NATS away) are retried after n seconds, at most 15, so
// publishing resumes soon after NATS comes back.
func (p *Publisher) Consumer() events.Consumer {
	return events.Consumer{
		Name:    ConsumerName,
		Types:   []string{"*"},
		Handle:  p.Publish,
		Backoff: func(n int) time.Duration { return time.Duration(min(n, 15)) * time.Second },
	}
}

// Publish publishes e and waits for the stream's acknowledgement. It
// returns nil for an event the stream already held (a duplicate).
func (p *Publisher) Publish(ctx context.Context, e events.Event) error {
	if err := p.publish(ctx, e); err != nil {
		p.failures.Inc()
		return err
	}
	return nil
}

func (p *Publisher) publish(ctx context.Context, e events.Event) error {
	subject, err := Subject(p.cfg.Subjects, e.Type)
	if err != nil {
		return err
	}
	if !p.nc.IsConnected() {
		return fmt.Errorf("natsbus: not connected to NATS (%s)", p.nc.Status())
	}
	if err := p.ensureStream(ctx); err != nil {
		return err
	}
	body, err := Body(e)
	if err != nil {
		return fmt.Errorf("natsbus: encode %s: %w", e.ID, err)
	}
	msg := nats.NewMsg(subject)
	msg.Header.Set("Content-Type", ContentType)
	msg.Data = body
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(p.cfg.Stream))
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			p.mu.Lock()
			p.ensured = false // deleted meanwhile: create it again next time
			p.mu.Unlock()
		}
		return fmt.Errorf("natsbus: publish %s (position %d) to %s: %w", e.ID, e.Position, subject, err)
	}
	if ack.Duplicate {
		p.duplicates.Inc()
	} else {
		p.published.Inc()
	}
	return nil
}

// Collectors are the publisher's metrics, for the process registry.
func (p *Publisher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.published, p.duplicates, p.failures, p.connected}
}

// Close closes the connection. Every publish has been acknowledged or has
// failed by then, so nothing is pending.
func (p *Publisher) Close() {
	p.nc.Close()
}
