// Package storage opens Portico's system of record by URL and hides the few
// differences between the two engines it supports: SQLite (the embedded
// default) and PostgreSQL (at scale). Blocks write portable SQL with $N
// placeholders against *sql.DB and *sql.Tx; both drivers accept it.
//
// Contract: Write() is the pool for statements that change data and for
// transactions; Read() is for reads outside a transaction. On SQLite the
// writer has exactly one connection (SQLite allows one writer at a time;
// queueing in Go is cheaper than SQLITE_BUSY retries) and the reader pool is
// opened query-only. On PostgreSQL both return the same pool.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

// Dialect names a storage engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open system of record.
type DB struct {
	Dialect Dialect
	write   *sql.DB
	read    *sql.DB
	pgx     *pgxpool.Pool // PostgreSQL only: River's LISTEN connections
	url     string        // redacted, for logs

	// SQLite only: hot statements prepared once (stmtcache.go).
	writeStmts, readStmts *stmtCache
	// PostgreSQL only: the pool of bulk transactions (InBulkTx).
	bulkDB  *sql.DB
	bulkPgx *pgxpool.Pool
	// bulk admits one bulk transaction at a time on SQLite (InBulkTx); waiting
	// counts the InTx callers waiting for the writer (in BeginTx), which
	// a bulk transaction waits for, up to bulkYield, before its own.
	bulk    chan struct{}
	waiting atomic.Int64
	// prio: people's requests in flight, which bulk steps wait for
	// (priority.go).
	prio priority
}

// Write returns the pool for changes and transactions.
func (db *DB) Write() *sql.DB { return db.write }

// Read returns the pool for reads outside a transaction.
func (db *DB) Read() *sql.DB { return db.read }

// Pgx returns the pgx pool on PostgreSQL and nil on SQLite.
func (db *DB) Pgx() *pgxpool.Pool { return db.pgx }

// String returns the database URL with any password removed.
func (db *DB) String() string { return db.url }

// ParseURL checks a database URL and returns its engine and target: the
// file path for SQLite, the URL itself for PostgreSQL. Accepted forms:
//
//	sqlite:///var/lib/portico/portico.db   (absolute path)
//	sqlite://./data/portico.db             (relative path)
//	postgres://user:pass@host:5432/db?sslmode=disable
func ParseURL(rawURL string) (Dialect, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("storage: database URL %s is not a URL", redact(rawURL))
	}
	switch u.Scheme {
	case "sqlite", "sqlite3", "file":
		path := sqlitePath(u)
		if path == "" {
			return "", "", fmt.Errorf("storage: database URL %q has no file path (want sqlite:///path/to/portico.db)", rawURL)
		}
		if strings.ContainsAny(path, "?#\x00") {
			return "", "", fmt.Errorf("storage: database path %q contains ?, # or NUL", path)
		}
		return SQLite, path, nil
	case "postgres", "postgresql":
		if _, err := pgxpool.ParseConfig(rawURL); err != nil {
			return "", "", fmt.Errorf("storage: postgres URL %s: %w", redact(rawURL), err)
		}
		return Postgres, rawURL, nil
	case "":
		return "", "", fmt.Errorf("storage: database URL %s has no scheme (want sqlite:///path or postgres://…)", redact(rawURL))
	default:
		return "", "", fmt.Errorf("storage: unsupported database scheme %q (want sqlite or postgres)", u.Scheme)
	}
}

// Open connects to the database named by rawURL (see ParseURL). It does
// not run migrations; call Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	return OpenWith(ctx, rawURL, Options{})
}

// OpenWith is Open with options (an observer of every statement, for tests).
func OpenWith(ctx context.Context, rawURL string, o Options) (*DB, error) {
	d, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if d == SQLite {
		return openSQLite(ctx, target, o)
	}
	return openPostgres(ctx, target, o)
}

// openPool opens a database/sql pool of driverName whose connections keep
// their prepared statements (conncache.go), observed when o says so.
func openPool(driverName, dsn string, o Options) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	drv := db.Driver()
	db.Close()
	c, err := connectorFor(drv, dsn)
	if err != nil {
		return nil, err
	}
	c = cachingConnector{base: c}
	if o.Observe != nil {
		c = observedConnector{base: c, observe: o.Observe}
	}
	return sql.OpenDB(c), nil
}

// SQLiteURL returns the storage URL of the SQLite database file at path,
// escaped so that a path with "#", "?" or "%" (a data directory, or a
// test's temporary directory named after a subtest such as "case#01")
// names that file and not a shorter one.
func SQLiteURL(path string) string {
	return (&url.URL{Scheme: "sqlite", Path: filepath.ToSlash(path)}).String()
}

func sqlitePath(u *url.URL) string {
	if u.Opaque != "" { // sqlite:relative.db
		if p, err := url.PathUnescape(u.Opaque); err == nil {
			return p
		}
		return u.Opaque
	}
	if u.Host != "" { // sqlite://./data/x.db or sqlite://data/x.db
		return u.Host + u.Path
	}
	return u.Path
}

// sqlitePragmas are applied to every connection. WAL lets readers run while
// the single writer writes; busy_timeout covers the reader/checkpoint races
// that remain; synchronous=NORMAL is durable across process crashes in WAL
// mode (only an OS crash can lose the last transactions).
var sqlitePragmas = []string{
	"journal_mode(WAL)",
	"busy_timeout(10000)",
	"foreign_keys(1)",
	"synchronous(NORMAL)",
}

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE takes the write lock up front, so a transaction
		// never fails half-way when it upgrades from read to write.
		q.Set("_txlock", "immediate")
	}
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string, o Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("storage: create directory for %s: %w", path, err)
		}
	}
	write, err := openPool("sqlite", sqliteDSN(path, false), o)
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := ping(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	read, err := openPool("sqlite", sqliteDSN(path, true), o)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db := &DB{Dialect: SQLite, write: write, read: read, url: "sqlite://" + path,
		writeStmts: &stmtCache{pool: write}, readStmts: &stmtCache{pool: read}, bulk: make(chan struct{}, 1)}
	db.prio.gate = openGate(path)
	db.SetBulkYield(DefaultBulkYield)
	return db, nil
}

func openPostgres(ctx context.Context, rawURL string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: postgres URL %s: %w", redact(rawURL), err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", redact(rawURL), err)
	}
	db := poolDB(pool, o.Observe)
	if err := ping(ctx, db); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("storage: connect %s: %w", redact(rawURL), err)
	}
	bulkPool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("storage: connect %s: %w", redact(rawURL), err)
	}
	bulkDB := poolDB(bulkPool, o.Observe)
	out := &DB{Dialect: Postgres, write: db, read: db, pgx: pool, url: redact(rawURL), bulkDB: bulkDB, bulkPgx: bulkPool}
	out.SetBulkYield(DefaultBulkYield)
	return out, nil
}

// poolDB is pool as a *sql.DB, every statement reported to observe when
// it is set (the plans test's recorder).
func poolDB(pool *pgxpool.Pool, observe Observer) *sql.DB {
	if observe != nil {
		return sql.OpenDB(observedConnector{base: stdlib.GetPoolConnector(pool), observe: observe})
	}
	return stdlib.OpenDBFromPool(pool)
}

func ping(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	if db.write != db.read {
		return db.write.PingContext(ctx)
	}
	return nil
}

// Close closes every pool.
func (db *DB) Close() error {
	var errs []error
	if db.writeStmts != nil {
		errs = append(errs, db.writeStmts.close(), db.readStmts.close())
	}
	if db.prio.gate != nil {
		errs = append(errs, db.prio.gate.close())
	}
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if db.bulkDB != nil {
		errs = append(errs, db.bulkDB.Close())
		db.bulkPgx.Close()
	}
	if db.pgx != nil {
		db.pgx.Close()
	}
	return errors.Join(errs...)
}

// InTx runs fn in a transaction on the write pool. It commits when fn returns
// nil and rolls back otherwise (including on panic, which it re-raises).
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	db.waiting.Add(1)
	tx, err := db.write.BeginTx(ctx, nil)
	db.waiting.Add(-1)
	return db.runTx(ctx, tx, err, fn)
}

// runTx runs fn in tx, which BeginTx returned with beginErr.
func (db *DB) runTx(ctx context.Context, tx *sql.Tx, beginErr error, fn func(tx *sql.Tx) error) (err error) {
	if beginErr != nil {
		return fmt.Errorf("storage: begin: %w", beginErr)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	if db.writeStmts != nil {
		// The connection is free again: prepare any hot statement the
		// transaction met for the first time (stmtcache.go).
		db.writeStmts.prepareWanted(ctx)
	}
	return nil
}

// InBulkTx is InTx for background work that writes in large transactions
// (a reminder send job of 100 reminders, a batch of delivery outcomes).
// Before it begins it yields to people's requests in flight (Yield,
// priority.go, ADR 74): on SQLite, whose one writer an audited page needs
// too, so that page's write does not queue behind bulk transactions; on
// both engines, so bulk work does not take the CPUs from the pages.
//
// On SQLite it also admits one bulk transaction at a time in this
// process: the others wait here rather than in the write pool's queue,
// which hands the writer to a random waiter, so a person's request that
// needs the writer competes with one bulk transaction, not with every
// busy worker (issue 14: the dashboard fell to a twentieth of its rate
// during a bulk send). Bulk transactions cannot run in parallel on
// SQLite anyway.
//
// On PostgreSQL bulk transactions run on a pool of their own, as large
// as the main one (ADR 76): with ten workers each in a bulk transaction,
// a person's page queued for one of the pool's four connections behind
// them (every statement of a page acquires a connection). People's
// requests and the job queue's own statements keep the main pool; a
// process opens up to twice pool_max_conns connections.
//
// It is a preference, not a guarantee: after the wait the bulk
// transaction queues for the writer like any other, and writes that do
// not go through InTx (statements on Write() directly, River's own
// queries) are not counted.
func (db *DB) InBulkTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.bulkDB != nil {
		db.Yield(ctx)
		tx, err := db.bulkDB.BeginTx(ctx, nil)
		return db.runTx(ctx, tx, err, fn)
	}
	if db.bulk == nil {
		db.Yield(ctx)
		return db.InTx(ctx, fn)
	}
	select {
	case db.bulk <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.bulk }()
	db.Yield(ctx)
	tx, err := db.write.BeginTx(ctx, nil)
	return db.runTx(ctx, tx, err, fn)
}

// IsUniqueViolation reports whether err is a unique or primary key conflict
// on either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || // SQLite
		strings.Contains(s, "SQLSTATE 23505") // PostgreSQL unique_violation
}

// redact returns raw safe for logs and errors: a parsed password is masked,
// and when raw does not parse cleanly everything before its last "@" (where
// credentials would be) is dropped.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return "xxxxx" + raw[i:]
	}
	return raw
}
