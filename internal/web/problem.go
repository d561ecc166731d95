package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/portico-gov/portico/internal/platform"
	"github.com/portico-gov/portico/internal/storage"
)

// statusByCode is the one place error codes become HTTP statuses.
var statusByCode = map[platform.Code]int{
	platform.CodeInvalid:      http.StatusBadRequest,
	platform.CodeNotFound:     http.StatusNotFound,
	platform.CodeConflict:     http.StatusConflict,
	platform.CodeUnauthorized: http.StatusUnauthorized,
	platform.CodeForbidden:    http.StatusForbidden,
	platform.CodeRateLimited:  http.StatusTooManyRequests,
	platform.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	platform.CodeUnavailable:  http.StatusServiceUnavailable,
	platform.CodeInternal:     http.StatusInternalServerError,
}

// Status returns the HTTP status for err's code. An unclassified error
// that says the database is out of reach for a while (storage.Unavailable:
// PostgreSQL restarting, SQLite locked by another process) is 503, not
// 500: nothing is wrong with the request or the code, and the client may
// try again (RetryAfter says when).
func Status(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	code := platform.ErrorCode(err)
	if code == platform.CodeInternal {
		if _, ok := storage.Unavailable(err); ok {
			return http.StatusServiceUnavailable
		}
	}
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// RetryAfter returns the Retry-After seconds for an error answered 503:
// the database's own estimate, or DefaultRetryAfter.
func RetryAfter(err error) int {
	if d, ok := storage.Unavailable(err); ok {
		return int((d + time.Second - 1) / time.Second)
	}
	return DefaultRetryAfter
}

// DefaultRetryAfter is the Retry-After, in seconds, of a 503 whose cause
// gives no estimate.
const DefaultRetryAfter = 5

// SetRetryAfter sets the Retry-After header of a 503 answer for err.
func SetRetryAfter(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfter(err)))
}

// logFailure logs a request that failed on the server's side: a database
// that is briefly out of reach at WARN (it is an outage the operator
// watches, counted by the 503s in the metrics, not a bug), anything else
// at ERROR.
func logFailure(r *http.Request, logger *slog.Logger, status int, err error) {
	if logger == nil {
		return
	}
	id := platform.RequestIDFrom(r.Context())
	if status == http.StatusServiceUnavailable {
		if _, ok := storage.Unavailable(err); ok {
			logger.WarnContext(r.Context(), "database unavailable: answered 503", "err", err, "request_id", id, "path", r.URL.Path)
			return
		}
	}
	logger.ErrorContext(r.Context(), "request failed", "err", err, "request_id", id, "path", r.URL.Path)
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	Code      platform.Code  `json:"code"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []ProblemField `json:"errors,omitempty"`
}

// ProblemField points at one invalid input.
type ProblemField struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// WriteProblem answers an API request with err as application/problem+json.
// Internal errors are logged with the request id; their details are never
// sent.
func WriteProblem(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := Status(err)
	if status >= 500 && ClientGone(r) {
		logClientGone(r, logger, err)
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	code := platform.ErrorCode(err)
	if status == http.StatusRequestEntityTooLarge {
		code = platform.CodeTooLarge
	}
	if status == http.StatusServiceUnavailable {
		code = platform.CodeUnavailable
		SetRetryAfter(w, err)
	}
	p := Problem{
		Type:      "https://portico.dev/problems/" + string(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    platform.ErrorMessage(err),
		Instance:  r.URL.Path,
		Code:      code,
		RequestID: platform.RequestIDFrom(r.Context()),
	}
	if status == http.StatusRequestEntityTooLarge {
		p.Detail = "The request body is larger than this endpoint accepts."
	}
	if _, ok := storage.Unavailable(err); ok && status == http.StatusServiceUnavailable {
		p.Detail = "The service is briefly unavailable. Nothing was changed; try again after the Retry-After interval."
	}
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Field != "" {
		p.Errors = []ProblemField{{Field: pe.Field, Detail: pe.Message}}
	}
	if status >= 500 {
		logFailure(r, logger, status, err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// StatusClientClosedRequest is the status recorded (in the access log and
// metrics) for a request whose client went away before it was answered:
// nginx's 499. Nobody receives it; it keeps such requests out of the
// server-error counts.
const StatusClientClosedRequest = 499

// ClientGone reports whether the client of r has gone away: its context was
// canceled (the connection closed, or the server is shutting it down). An
// error while serving such a request is expected (queries fail with
// "context canceled") and no fault of the server.
func ClientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

// logClientGone notes, below ERROR, a request abandoned by its client.
func logClientGone(r *http.Request, logger *slog.Logger, err error) {
	if logger != nil {
		logger.InfoContext(r.Context(), "client went away before the answer", "err", err,
			"request_id", platform.RequestIDFrom(r.Context()), "path", r.URL.Path)
	}
}

// clientWentAway answers (to nobody) a page request whose client left.
func (s *Server) clientWentAway(w http.ResponseWriter, r *http.Request, err error) {
	logClientGone(r, s.logger, err)
	w.WriteHeader(StatusClientClosedRequest)
}
