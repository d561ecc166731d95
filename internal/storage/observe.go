package storage

import (
	"context"
	"database/sql/driver"
	"errors"
)

// Statement is one SQL statement as a pool handed it to the driver: the
// query text and its arguments, after database/sql converted them.
type Statement struct {
	Query string
	Args  []any
}

// Observer is told about every statement a pool runs (queries, executions
// and executions of prepared statements, inside transactions or not), just
// before the driver runs it. It must be safe for concurrent use and must
// not use the database. It sees no BEGIN/COMMIT: those are not statements
// at this level.
type Observer func(ctx context.Context, s Statement)

// Options adjust OpenWith.
type Options struct {
	// Observe, when set, is called for every statement (see Observer).
	// It exists for tests that check what the application runs, such as
	// the query-plan test at state scale; production leaves it nil, and
	// then the pools are the drivers' own, unwrapped.
	Observe Observer
}

// observedConnector wraps a connector so that every connection it makes
// reports its statements to observe.
type observedConnector struct {
	base    driver.Connector
	observe Observer
}

func (c observedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &observedConn{Conn: conn, observe: c.observe}, nil
}

func (c observedConnector) Driver() driver.Driver { return c.base.Driver() }

// dsnConnector is a connector for a driver that has none of its own.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

func connectorFor(drv driver.Driver, dsn string) (driver.Connector, error) {
	if dc, ok := drv.(driver.DriverContext); ok {
		return dc.OpenConnector(dsn)
	}
	return dsnConnector{drv: drv, dsn: dsn}, nil
}

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// observedConn forwards every optional interface database/sql uses to the
// driver's connection; where the driver lacks one it answers as
// database/sql expects from a driver without it (driver.ErrSkip, or the
// neutral result).
type observedConn struct {
	driver.Conn
	observe Observer
}

var (
	_ driver.QueryerContext     = (*observedConn)(nil)
	_ driver.ExecerContext      = (*observedConn)(nil)
	_ driver.ConnPrepareContext = (*observedConn)(nil)
	_ driver.ConnBeginTx        = (*observedConn)(nil)
	_ driver.Pinger             = (*observedConn)(nil)
	_ driver.SessionResetter    = (*observedConn)(nil)
	_ driver.Validator          = (*observedConn)(nil)
	_ driver.NamedValueChecker  = (*observedConn)(nil)
)

func (c *observedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.observe(ctx, Statement{Query: query, Args: values(args)})
	return q.QueryContext(ctx, query, args)
}

func (c *observedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.observe(ctx, Statement{Query: query, Args: values(args)})
	return e.ExecContext(ctx, query, args)
}

func (c *observedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &observedStmt{Stmt: st, query: query, observe: c.observe}, nil
}

func (c *observedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *observedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	//lint:ignore SA1019 the driver has no BeginTx; database/sql itself falls back the same way
	return c.Conn.Begin()
}

func (c *observedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *observedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *observedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *observedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := c.Conn.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// observedStmt reports each execution of a prepared statement.
type observedStmt struct {
	driver.Stmt
	query   string
	observe Observer
}

var (
	_ driver.StmtQueryContext  = (*observedStmt)(nil)
	_ driver.StmtExecContext   = (*observedStmt)(nil)
	_ driver.NamedValueChecker = (*observedStmt)(nil)
)

var errNoContextStmt = errors.New("storage: the driver's statement does not take a context")

func (s *observedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errNoContextStmt
	}
	s.observe(ctx, Statement{Query: s.query, Args: values(args)})
	return q.QueryContext(ctx, args)
}

func (s *observedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errNoContextStmt
	}
	s.observe(ctx, Statement{Query: s.query, Args: values(args)})
	return e.ExecContext(ctx, args)
}

func (s *observedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if v, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return v.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
