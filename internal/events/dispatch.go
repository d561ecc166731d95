package events

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/portico-gov/portico/internal/storage"
)

// DispatchConfig tunes the dispatcher. Zero values take the defaults.
type DispatchConfig struct {
	// Poll is how often an idle consumer looks for new events and the
	// sequencer for new appends. Default 200ms.
	Poll time.Duration
	// Batch is how many events a consumer reads at a time. Default 100.
	Batch int
	// Lease is how long a process may drive a consumer without moving its
	// cursor before another process may take it over. Default 30s.
	Lease time.Duration
	// HandlerTimeout bounds one handler call. The dispatcher renews its
	// lease whenever a third of it has passed, between handler calls, so
	// HandlerTimeout must be under two thirds of Lease for a lease never to
	// lapse while its holder's handler runs. Default a third of Lease.
	HandlerTimeout time.Duration
	// Backoff is the wait before the next attempt after a handler's nth
	// consecutive failure at the same event. Default n⁴ seconds, at most
	// ten minutes.
	Backoff func(n int) time.Duration
	// Owner names this process in leases. Default host-pid-random.
	Owner  string
	Logger *slog.Logger
}

// Dispatcher runs the sequencer and drives every subscribed consumer. It
// runs in worker processes; any number may run against one database.
// Leases and retry times use the wall clock (not platform.Clock), as they
// are about processes, not about the domain; replicas' clocks are assumed
// to agree to well within Lease.
type Dispatcher struct {
	db  *storage.DB
	bus *Bus
	cfg DispatchConfig

	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   map[string]chan struct{}
}

// NewDispatcher returns a dispatcher for bus's consumers over db.
func NewDispatcher(db *storage.DB, bus *Bus, cfg DispatchConfig) (*Dispatcher, error) {
	if db == nil || bus == nil {
		return nil, errors.New("events: a dispatcher needs a database and a bus")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = cfg.Lease / 3
	}
	if cfg.HandlerTimeout >= cfg.Lease*2/3 {
		return nil, fmt.Errorf("events: handler timeout %s must be under two thirds of the lease %s", cfg.HandlerTimeout, cfg.Lease)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "events")
	return &Dispatcher{db: db, bus: bus, cfg: cfg}, nil
}

func defaultBackoff(n int) time.Duration {
	d := time.Duration(n*n*n*n) * time.Second
	if n > 30 || d > 10*time.Minute {
		return 10 * time.Minute
	}
	return d
}

// Register gives every subscribed consumer a cursor if it has none. A new
// consumer starts at the beginning of the log.
func (d *Dispatcher) Register(ctx context.Context) error {
	now := time.Now().UTC()
	return d.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, c := range d.bus.Consumers() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO event_consumers (name, updated_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, c.Name, now); err != nil {
				return fmt.Errorf("events: register %s: %w", c.Name, err)
			}
		}
		return nil
	})
}

// Start registers the consumers and runs the sequencer and one loop per
// consumer until Stop.
func (d *Dispatcher) Start(ctx context.Context) error {
	if err := d.Register(ctx); err != nil {
		return err
	}
	ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	consumers := d.bus.Consumers()
	d.wake = make(map[string]chan struct{}, len(consumers))
	for _, c := range consumers {
		d.wake[c.Name] = make(chan struct{}, 1)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.sequencer(ctx)
	}()
	for _, c := range consumers {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.consume(ctx, c)
		}()
	}
	return nil
}

// Stop ends the loops, waiting for handlers in flight until ctx ends.
func (d *Dispatcher) Stop(ctx context.Context) error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("events: stop: %w", ctx.Err())
	}
}

func (d *Dispatcher) sequencer(ctx context.Context) {
	const limit = 1000
	for {
		n, err := Sequence(ctx, d.db, limit)
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.Warn("sequencing events failed", "error", err)
		}
		if n > 0 {
			for _, w := range d.wake {
				select {
				case w <- struct{}{}:
				default:
				}
			}
		}
		if n == limit {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.cfg.Poll):
		}
	}
}

func (d *Dispatcher) consume(ctx context.Context, c Consumer) {
	for {
		n, err := d.Drive(ctx, c.Name)
		if err != nil && ctx.Err() == nil && !errors.Is(err, errLeaseLost) {
			d.cfg.Logger.Warn("event consumer failed", "consumer", c.Name, "error", err)
		}
		if err == nil && n == d.cfg.Batch {
			continue // more to read
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake[c.Name]:
		case <-time.After(d.cfg.Poll):
		}
	}
}

// Drive handles, for the named consumer, up to one batch of events after
// its cursor, if this process can take the consumer's lease and the
// consumer is not waiting to retry. It returns how many events it read.
// A handler's failure is recorded on the consumer (attempts, error, the
// time of the next try) and returned.
func (d *Dispatcher) Drive(ctx context.Context, name string) (int, error) {
	c, ok := d.consumer(name)
	if !ok {
		return 0, fmt.Errorf("events: no consumer %q is subscribed", name)
	}
	// Cheap reads first: an idle or busy consumer costs no write.
	var pos, retryAt, leaseUntil, head int64
	var owner string
	err := d.db.Read().QueryRowContext(ctx, `SELECT c.position, c.retry_at, c.lease_owner, c.lease_until, s.position
		FROM event_consumers c, event_sequence s WHERE c.name = $1 AND s.id = 1`, name).Scan(&pos, &retryAt, &owner, &leaseUntil, &head)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("events: consumer %q has no cursor; Register first", name)
	}
	if err != nil {
		return 0, fmt.Errorf("events: %s: %w", name, err)
	}
	now := time.Now()
	if head <= pos || retryAt > now.UnixMilli() || (owner != "" && owner != d.cfg.Owner && leaseUntil > now.UnixMilli()) {
		return 0, nil
	}

	var attempts int
	err = d.db.Write().QueryRowContext(ctx, `UPDATE event_consumers SET lease_owner = $2, lease_until = $3
		WHERE name = $1 AND (lease_owner = '' OR lease_owner = $2 OR lease_until <= $4) AND retry_at <= $4
		RETURNING position, attempts`,
		name, d.cfg.Owner, now.Add(d.cfg.Lease).UnixMilli(), now.UnixMilli()).Scan(&pos, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // another process drives it, or it waits to retry
	}
	if err != nil {
		return 0, fmt.Errorf("events: %s: lease: %w", name, err)
	}
	defer d.release(ctx, name)

	evs, err := Read(ctx, d.db, pos, d.cfg.Batch)
	if err != nil {
		return 0, err
	}
	// The cursor is stored at the end of the batch, and sooner when a
	// third of the lease has passed since it was last stored (which renews
	// the lease): one write per batch, not per event. A crash redelivers at
	// most the batch's handled events, which at-least-once allows.
	cursor, moved := pos, time.Now()
	for _, e := range evs {
		if !c.matches(e.Type) {
			continue // passed over; the next cursor move covers it
		}
		if err := d.handle(ctx, c, e); err != nil {
			attempts++
			backoff := d.cfg.Backoff
			if c.Backoff != nil {
				backoff = c.Backoff
			}
			if ferr := d.fail(ctx, name, cursor, e.Position-1, attempts, backoff(attempts), err); ferr != nil {
				return 0, ferr
			}
			d.cfg.Logger.Warn("event handler failed; will retry", "consumer", name, "position", e.Position, "type", e.Type, "event", e.ID, "attempt", attempts, "error", err)
			return 0, fmt.Errorf("events: %s at position %d: %w", name, e.Position, err)
		}
		attempts = 0
		if time.Since(moved) >= d.cfg.Lease/3 {
			if err := d.advance(ctx, name, cursor, e.Position); err != nil {
				return 0, err
			}
			cursor, moved = e.Position, time.Now()
		}
	}
	if n := len(evs); n > 0 && evs[n-1].Position > cursor {
		if err := d.advance(ctx, name, cursor, evs[n-1].Position); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}

func (d *Dispatcher) consumer(name string) (Consumer, bool) {
	d.bus.mu.RLock()
	defer d.bus.mu.RUnlock()
	c, ok := d.bus.consumers[name]
	return c, ok
}

// handle runs c's handler on e with the handler timeout, turning a panic
// into an error so one bad event cannot stop the worker.
func (d *Dispatcher) handle(ctx context.Context, c Consumer, e Event) (err error) {
	hctx, cancel := context.WithTimeout(ctx, d.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			d.cfg.Logger.Error("event handler panicked", "consumer", c.Name, "event", e.ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.Handle(hctx, e)
}

// advance moves the cursor from old to to and renews the lease, but only if
// this process still holds the lease and nobody moved the cursor meanwhile
// (Replay): the compare-and-set is what keeps two processes from both
// moving one cursor.
func (d *Dispatcher) advance(ctx context.Context, name string, old, to int64) error {
	now := time.Now()
	res, err := d.db.Write().ExecContext(ctx, `UPDATE event_consumers SET position = $4, attempts = 0, last_error = '', retry_at = 0, lease_until = $5, updated_at = $6
		WHERE name = $1 AND lease_owner = $2 AND position = $3`,
		name, d.cfg.Owner, old, to, now.Add(d.cfg.Lease).UnixMilli(), now.UTC())
	if err != nil {
		return fmt.Errorf("events: %s: move cursor: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("events: %s: move cursor: %w", name, err)
	} else if n == 0 {
		return errLeaseLost
	}
	return nil
}

// fail records a handler failure: the cursor moves to just before the
// failed event (past any it passed over), and the consumer waits out its
// backoff, lease released, so any process may retry it then.
func (d *Dispatcher) fail(ctx context.Context, name string, old, to int64, attempts int, wait time.Duration, cause error) error {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	now := time.Now()
	_, err := d.db.Write().ExecContext(ctx, `UPDATE event_consumers SET position = $4, attempts = $5, last_error = $6, retry_at = $7, lease_owner = '', lease_until = 0, updated_at = $8
		WHERE name = $1 AND lease_owner = $2 AND position = $3`,
		name, d.cfg.Owner, old, to, attempts, msg, now.Add(wait).UnixMilli(), now.UTC())
	if err != nil {
		return fmt.Errorf("events: %s: record failure: %w", name, err)
	}
	return nil
}

// release gives up the lease so another process need not wait for it to
// lapse. It runs even when ctx has ended (shutdown).
func (d *Dispatcher) release(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := d.db.Write().ExecContext(ctx, `UPDATE event_consumers SET lease_owner = '', lease_until = 0 WHERE name = $1 AND lease_owner = $2`, name, d.cfg.Owner); err != nil {
		d.cfg.Logger.Warn("releasing event consumer lease failed", "consumer", name, "error", err)
	}
}
