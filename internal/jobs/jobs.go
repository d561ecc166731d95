// Package jobs runs Portico's durable background work on River, on whichever
// engine storage opened. A block enqueues a job in the same transaction as
// the state change that causes it (the transactional outbox): the job exists
// if and only if the change committed, and workers see it only after commit.
//
// Delivery is at least once. River retries a failing job with exponential
// backoff (attempt^4 seconds plus jitter) up to MaxAttempts, then moves it to
// the "discarded" state, our dead letter, where `portico jobs` lists it and
// an operator can retry it. Handlers must therefore be idempotent; see
// events.Once for the receipt pattern.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/portico-gov/portico/internal/storage"
)

// Client is the River client type for both engines: both drivers work on
// database/sql, so a block's *sql.Tx is River's transaction too.
type Client = river.Client[*sql.Tx]

// Config tunes the queue.
type Config struct {
	// Work, when false, makes an insert-only client (CLI commands): jobs
	// are stored for the server's workers to run.
	Work bool
	// Workers is the concurrency of the default queue.
	Workers int
	// MaxAttempts before a job is discarded (dead-lettered). Default 25.
	MaxAttempts int
	// RetryPolicy overrides River's exponential backoff (tests use a fast one).
	RetryPolicy river.ClientRetryPolicy
	// FetchPollInterval is how often workers poll when LISTEN/NOTIFY is not
	// available (SQLite). Default 200ms.
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches. A fetch takes
	// at most Workers jobs, so Workers/FetchCooldown bounds the jobs run
	// per second: River's default of 100ms held ten workers near 100
	// jobs/s. Default 10ms. It must not exceed FetchPollInterval.
	FetchCooldown time.Duration
	// PeriodicJobs are scheduled on the elected leader only, so several
	// replicas never run one twice.
	PeriodicJobs []*river.PeriodicJob
	// JobTimeout bounds one attempt. Default 5 minutes.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay "running" before it is
	// presumed orphaned by a crashed process and retried. Default 1 hour;
	// it must exceed JobTimeout.
	RescueStuckJobsAfter time.Duration
	Logger               *slog.Logger
	// Middleware wraps every job attempt (tracing.JobMiddleware traces
	// them); nil for none.
	Middleware []rivertype.Middleware
}

// Registry collects the workers blocks contribute before the client starts.
type Registry struct {
	workers *river.Workers
	kinds   []string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{workers: river.NewWorkers()} }

// Register adds w as the worker for its job kind.
func Register[T river.JobArgs](r *Registry, w river.Worker[T]) {
	river.AddWorker(r.workers, w)
	var zero T
	r.kinds = append(r.kinds, zero.Kind())
}

// Kinds lists the registered job kinds.
func (r *Registry) Kinds() []string { return append([]string(nil), r.kinds...) }

// New builds a River client over db.
func New(db *storage.DB, reg *Registry, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rc := &river.Config{
		Logger:               cfg.Logger.With("component", "jobs"),
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          cfg.RetryPolicy,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        cfg.FetchCooldown,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		Middleware:           cfg.Middleware,
	}
	if rc.JobTimeout == 0 {
		rc.JobTimeout = 5 * time.Minute
	}
	if rc.FetchPollInterval == 0 {
		rc.FetchPollInterval = 200 * time.Millisecond
	}
	if rc.FetchCooldown == 0 {
		rc.FetchCooldown = min(10*time.Millisecond, rc.FetchPollInterval)
	}
	if cfg.Work {
		if reg == nil {
			return nil, errors.New("jobs: a working client needs a registry")
		}
		n := cfg.Workers
		if n <= 0 {
			n = 10
		}
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}}
		rc.Workers = reg.workers
		rc.PeriodicJobs = cfg.PeriodicJobs
	}
	switch db.Dialect {
	case storage.SQLite:
		// SQLite has no LISTEN/NOTIFY; River polls.
		rc.PollOnly = true
		return river.NewClient(riversqlite.New(db.Write()), rc)
	case storage.Postgres:
		if cfg.Work && db.Pgx() != nil {
			return river.NewClient(riverdatabasesql.NewWithPgxListener(db.Write(), db.Pgx()), rc)
		}
		return river.NewClient(riverdatabasesql.New(db.Write()), rc)
	}
	return nil, fmt.Errorf("jobs: unsupported dialect %q", db.Dialect)
}

// Inserter is an insert-only job client: it stores jobs in a block's
// transaction and never runs them. The wiring makes one before any block,
// so every block receives it in its constructor and can enqueue from the
// moment it exists; the working client, built from the Registry once every
// block has registered its workers, runs what was stored. Both share the
// river_job table, so which client inserted a job makes no difference.
type Inserter struct{ c *Client }

// NewInserter returns an insert-only client over db. Of cfg only the
// settings River applies when a job is inserted matter (MaxAttempts: a
// job keeps the limit it was inserted with), so give it the working
// client's Config. It registers no workers, so River does not check job
// kinds at insert time: a kind whose worker is never registered would sit
// "available" until a process that registers one works the queue.
func NewInserter(db *storage.DB, cfg Config) (*Inserter, error) {
	if db == nil {
		return nil, errors.New("jobs: an inserter needs a database")
	}
	cfg.Work = false
	c, err := New(db, nil, cfg)
	if err != nil {
		return nil, err
	}
	return &Inserter{c: c}, nil
}

// InsertManyTx inserts several jobs in tx, as River's client does.
func (i *Inserter) InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return i.c.InsertManyTx(ctx, tx, params)
}

// InsertManyFastTx inserts several jobs in tx without reading them back
// (River's InsertManyFastTx): for batches of jobs that are not unique,
// where only success matters.
func (i *Inserter) InsertManyFastTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) (int, error) {
	return i.c.InsertManyFastTx(ctx, tx, params)
}

// Enqueue inserts a job in tx. The job runs only if tx commits.
func Enqueue(ctx context.Context, c *Inserter, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := c.c.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// StateCount is the number of jobs in one River state.
type StateCount struct {
	State rivertype.JobState `json:"state"`
	Count int64              `json:"count"`
}

// Counts returns how many jobs are in each state. Used by metrics and the
// CLI; it reads River's table directly because both engines share its shape.
func Counts(ctx context.Context, db *storage.DB) ([]StateCount, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state ORDER BY state`)
	if err != nil {
		return nil, fmt.Errorf("jobs: counts: %w", err)
	}
	defer rows.Close()
	var out []StateCount
	for rows.Next() {
		var sc StateCount
		if err := rows.Scan(&sc.State, &sc.Count); err != nil {
			return nil, fmt.Errorf("jobs: counts: %w", err)
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// Waiting counts the jobs of kind waiting to run (available, scheduled or
// retryable), stopping at limit: producers use it for backpressure, so it
// never counts a long queue to its end.
func Waiting(ctx context.Context, db *storage.DB, kind string, limit int) (int, error) {
	var n int
	err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable') AND kind = $1 LIMIT $2) w`, kind, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("jobs: waiting %s: %w", kind, err)
	}
	return n, nil
}
