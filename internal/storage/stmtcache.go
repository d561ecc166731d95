package storage

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Hot statements.
//
// The pure-Go SQLite driver parses and plans every statement again on every
// call; for the token endpoint's handful of statements that was about a
// seventh of all CPU (docs/performance.md). On PostgreSQL, pgx already
// keeps a per-connection cache of prepared statements, so these helpers
// simply pass through there.
//
// Use them for statements that run on every request of a hot path; the
// cache holds one *sql.Stmt per distinct query text for the life of the DB,
// so never build the query text from input.

// stmtCache holds statements prepared on one pool. database/sql prepares a
// *sql.Stmt lazily on each connection it runs on and keeps it, so the
// single SQLite writer connection and each reader connection parse a query
// once.
//
// A statement is never prepared while a transaction may hold the pool's
// only connection (SQLite's writer): that would wait for the connection
// forever. A miss inside a transaction runs the query unprepared and marks
// it wanted; InTx prepares wanted statements once the transaction is over.
type stmtCache struct {
	pool   *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
}

// lookup returns the prepared statement for query, or nil after noting
// that it is wanted.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if c.wanted == nil {
		c.wanted = map[string]bool{}
	}
	c.wanted[query] = true
	return nil
}

// prepareWanted prepares every wanted statement; the pool must have a free
// connection for the caller (no transaction of the caller's open). A
// statement that fails to prepare is simply not cached: its next use runs
// unprepared and reports the error there.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	var todo []string
	for q := range c.wanted {
		todo = append(todo, q)
	}
	c.wanted = nil
	c.mu.Unlock()
	for _, q := range todo {
		st, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		if _, dup := c.stmts[q]; dup {
			st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// get returns a prepared statement for query, preparing it now if needed.
// Only for pools where the caller holds no connection (the read pool).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.lookup(query); st != nil {
		return st, nil
	}
	c.prepareWanted(ctx)
	c.mu.Lock()
	st := c.stmts[query]
	c.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("storage: prepare failed")
	}
	return st, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, st := range c.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.stmts = nil
	return first
}

// cached reports whether hot statements are prepared by Portico (SQLite)
// rather than left to the driver (PostgreSQL).
func (db *DB) cached() bool { return db.Dialect == SQLite && db.writeStmts != nil }

// ExecHot runs a hot statement in tx. See the note on hot statements.
func (db *DB) ExecHot(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if !db.cached() {
		return tx.ExecContext(ctx, query, args...)
	}
	st := db.writeStmts.lookup(query)
	if st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	// The transaction's copy reuses the statement already prepared on the
	// connection and is released (not re-parsed) when tx ends.
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// QueryRowHot runs a hot single-row query in tx.
func (db *DB) QueryRowHot(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if !db.cached() {
		return tx.QueryRowContext(ctx, query, args...)
	}
	st := db.writeStmts.lookup(query)
	if st == nil {
		return tx.QueryRowContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// ReadRowHot runs a hot single-row query on the read pool.
func (db *DB) ReadRowHot(ctx context.Context, query string, args ...any) *sql.Row {
	if !db.cached() {
		return db.read.QueryRowContext(ctx, query, args...)
	}
	st, err := db.readStmts.get(ctx, query)
	if err != nil {
		// A *sql.Row cannot carry an error from outside database/sql; the
		// unprepared query reports it.
		return db.read.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// HotReader runs queries on the read pool through the hot statement cache.
// It has the QueryRowContext and QueryContext methods of *sql.DB, so code
// written against those can use it unchanged.
type HotReader struct{ db *DB }

// HotRead returns a HotReader over db.
func (db *DB) HotRead() HotReader { return HotReader{db: db} }

// QueryRowContext runs a hot single-row query on the read pool.
func (h HotReader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return h.db.ReadRowHot(ctx, query, args...)
}

// QueryContext runs a hot query on the read pool.
func (h HotReader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !h.db.cached() {
		return h.db.read.QueryContext(ctx, query, args...)
	}
	st, err := h.db.readStmts.get(ctx, query)
	if err != nil {
		return h.db.read.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}
