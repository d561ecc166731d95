// Package platform holds the kernel types every block shares: errors with
// codes, the clock, and small value types. It imports nothing from Portico.
package platform

import (
	"errors"
	"fmt"
)

// Code classifies an error so that every edge (HTTP API, HTML pages, CLI)
// can map it to its own representation in one place.
type Code string

// The error codes. Adding one means adding it to the HTTP mapping in
// internal/web and the CLI exit-code mapping in cmd/portico.
const (
	CodeInvalid      Code = "invalid"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeRateLimited  Code = "rate_limited"
	CodeTooLarge     Code = "too_large"
	CodeUnavailable  Code = "unavailable"
	CodeInternal     Code = "internal"
)

// Error is the one error type that carries a code and a message that is safe
// to show to the person who caused it. Err holds the underlying cause, which
// is logged but never shown.
type Error struct {
	Code    Code
	Message string // safe for users; plain sentence
	Field   string // optional: which input was wrong
	Err     error  // optional cause; logged, never shown
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	default:
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted user-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an invalid-input error about one field.
func Invalid(field, message string) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: message}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none (an unclassified error is a bug or an
// outage, never the client's fault).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-safe message of err, or a generic sentence
// for internal errors so that details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal && e.Message != "" {
		return e.Message
	}
	return "Something went wrong on our side. Please try again later."
}
