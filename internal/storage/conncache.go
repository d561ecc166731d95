package storage

import (
	"context"
	"database/sql/driver"
	"reflect"
	"sync"
)

// Statements prepared once per SQLite connection.
//
// The pure-Go SQLite driver parses and plans every statement that is not
// prepared. stmtcache.go prepares Portico's own hot statements, but
// statements written by libraries cannot use it: River's job insert (a
// long statement over json_each) was parsed again for every Notify send,
// about a quarter of the CPU of a send (docs/performance.md). A
// cachingConn keeps the driver statement of each parameterised query it
// runs, per connection, and runs the query through it the next time.
//
// A kept statement serves one use at a time: while rows read from it are
// open (a transaction may run other statements meanwhile, even the same
// text), the same text runs unprepared, exactly as without the cache.
// Statements without arguments (DDL, PRAGMA, BEGIN-like scripts) are not
// kept. SQLite re-prepares a kept statement itself when the schema
// changes (sqlite3_prepare_v2), so migrations need no care.

// maxConnStmts bounds the statements kept per connection; the least
// recently used idle one is closed to make room.
const maxConnStmts = 128

// cachingConnector makes cachingConns.
type cachingConnector struct{ base driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{observedConn: observedConn{Conn: conn}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// cachingConn is a connection that keeps its prepared statements. It
// forwards every other optional interface as observedConn does (it
// observes nothing: its own query methods bypass the observer).
type cachingConn struct {
	observedConn
	mu    sync.Mutex
	stmts map[string]*keptStmt
	tick  uint64
}

type keptStmt struct {
	st   driver.Stmt
	busy bool
	used uint64
}

var (
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
)

// take returns the idle kept statement of query, preparing and keeping it
// if there is none, and marks it busy; nil means run query unprepared.
func (c *cachingConn) take(ctx context.Context, query string) *keptStmt {
	c.mu.Lock()
	c.tick++
	if k, ok := c.stmts[query]; ok {
		if k.busy {
			c.mu.Unlock()
			return nil
		}
		k.busy, k.used = true, c.tick
		c.mu.Unlock()
		return k
	}
	c.mu.Unlock()
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil // unprepared, the query reports its own error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts == nil {
		c.stmts = map[string]*keptStmt{}
	}
	if len(c.stmts) >= maxConnStmts {
		c.evictLocked()
	}
	k := &keptStmt{st: st, busy: true, used: c.tick}
	c.stmts[query] = k
	return k
}

// evictLocked closes the least recently used idle statement.
func (c *cachingConn) evictLocked() {
	var oldest string
	var at uint64
	for q, k := range c.stmts {
		if !k.busy && (oldest == "" || k.used < at) {
			oldest, at = q, k.used
		}
	}
	if oldest != "" {
		_ = c.stmts[oldest].st.Close()
		delete(c.stmts, oldest)
	}
}

func (c *cachingConn) release(k *keptStmt) {
	c.mu.Lock()
	k.busy = false
	c.mu.Unlock()
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		if k := c.take(ctx, query); k != nil {
			if q, ok := k.st.(driver.StmtQueryContext); ok {
				rows, err := q.QueryContext(ctx, args)
				if err != nil {
					c.release(k)
					return nil, err
				}
				return &keptRows{Rows: rows, release: func() { c.release(k) }}, nil
			}
			c.release(k)
		}
	}
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		if k := c.take(ctx, query); k != nil {
			defer c.release(k)
			if e, ok := k.st.(driver.StmtExecContext); ok {
				return e.ExecContext(ctx, args)
			}
		}
	}
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

// PrepareContext prepares query on the driver's connection, unobserved.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// Close closes the kept statements, then the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	for q, k := range c.stmts {
		_ = k.st.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// keptRows are rows read from a kept statement: closing them frees the
// statement for its next use. The column type methods database/sql's
// ColumnTypes asks for are forwarded.
type keptRows struct {
	driver.Rows
	release func()
	closed  bool
}

func (r *keptRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.release()
	}
	return err
}

func (r *keptRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *keptRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *keptRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *keptRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *keptRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
