// Package apperr is the one error type every Marquee service raises where the meaning of a failure is known.
// It carries a machine code that exactly one function (httpx.Error) maps to an HTTP status.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error; it is stable and appears in problem+json types.
type Code string

// The codes a Marquee service may raise.
const (
	Invalid            Code = "invalid"             // the request is malformed or fails validation
	Unauthorized       Code = "unauthorized"        // no or bad credentials
	Forbidden          Code = "forbidden"           // authenticated, but the role does not allow it
	NotFound           Code = "not-found"           // no such resource
	MethodNotAllowed   Code = "method-not-allowed"  // the resource exists but not with that method
	Conflict           Code = "conflict"            // the resource exists or the state forbids the change
	PreconditionFailed Code = "precondition-failed" // If-Match names a stale version
	Unprocessable      Code = "unprocessable"       // well-formed but unusable, e.g. an Idempotency-Key reused with another body
	TooLarge           Code = "too-large"           // the request body is over the limit
	UnsupportedMedia   Code = "unsupported-media"   // the request body's Content-Type is not one the route reads
	RateLimited        Code = "rate-limited"        // too many requests
	Unavailable        Code = "unavailable"         // a dependency is down or not ready
	ClientClosed       Code = "client-closed"       // the client went away before the answer was ready
	Internal           Code = "internal"            // a bug or an unexpected failure; never shown in detail
)

// Error is an error with a code, a message safe to show a client, and optional per-field problems.
type Error struct {
	Code    Code
	Message string
	Fields  map[string]string // field name → what is wrong with it
	Err     error             // the cause, if any; never shown to a client
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns an *Error with a client-safe message that keeps err as its cause.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Errorf returns an *Error with a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidFields returns an Invalid error listing the field problems.
func InvalidFields(message string, fields map[string]string) *Error {
	return &Error{Code: Invalid, Message: message, Fields: fields}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// MessageOf returns the client-safe message of err, or a generic one for errors without a code.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// FieldsOf returns the per-field problems of err, if any.
func FieldsOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
