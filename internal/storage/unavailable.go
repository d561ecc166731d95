package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// How long a client should wait before trying again (Retry-After) after
// each kind of unavailability.
const (
	// RetryAfterConnection: PostgreSQL is restarting, failing over or out
	// of reach; a restart takes seconds.
	RetryAfterConnection = 5 * time.Second
	// RetryAfterBusy: SQLite stayed locked by another process (a backup,
	// an operator's command) for longer than the busy timeout.
	RetryAfterBusy = 2 * time.Second
)

// Unavailable reports whether err means the database could not be reached
// or used for a while, not that the request or the code was wrong, and how
// long a client should wait before trying again. The web edge answers such
// errors 503 with Retry-After instead of 500.
//
// On PostgreSQL: the connection failed or was lost (connect errors, class
// 08 connection exceptions, the server shutting down or starting up:
// 57P01–57P03, too many connections 53300, a closed or reset socket). On
// SQLite: SQLITE_BUSY after the busy timeout: the file is locked by
// another process, which clears by itself. SQLITE_LOCKED is not in it: in
// one process it means a transaction conflicts with itself, a bug.
//
// Cancellation is not unavailability: a request whose client went away is
// the web edge's concern (web.ClientGone), and context errors are not
// reported here.
func Unavailable(err error) (retryAfter time.Duration, ok bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// Extended codes carry the primary code in the low byte.
		if se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return RetryAfterBusy, true
		}
		return 0, false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now (starting up)
			pe.Code == "53300": // too_many_connections
			return RetryAfterConnection, true
		}
		return 0, false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return RetryAfterConnection, true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return RetryAfterConnection, true
	}
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return RetryAfterConnection, true
	}
	// pgx reports a connection it closed after a failure as text only.
	if strings.Contains(err.Error(), "conn closed") {
		return RetryAfterConnection, true
	}
	return 0, false
}
