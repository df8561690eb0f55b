package platform

import (
	"errors"
	"fmt"
)

// Code is a stable, snake_case error code that programs may rely on. Each
// boundary (HTTP, wire protocol, CLI) maps codes in one table.
type Code string

// The error codes. Adding one means adding it to every boundary's table.
const (
	CodeInvalid        Code = "invalid_request"    // 400 malformed or missing field
	CodeUnauthorized   Code = "unauthorized"       // 401
	CodeForbidden      Code = "forbidden"          // 403 scope
	CodeQuotaExceeded  Code = "quota_exceeded"     // 403 quota
	CodeNotFound       Code = "not_found"          // 404
	CodeMethod         Code = "method_not_allowed" // 405
	CodeConflict       Code = "conflict"           // 409
	CodeGone           Code = "gone"               // 410
	CodeTooLarge       Code = "payload_too_large"  // 413
	CodeUnprocessable  Code = "unprocessable"      // 422
	CodeRateLimited    Code = "rate_limited"       // 429
	CodeInternal       Code = "internal"           // 500
	CodeNotImplemented Code = "not_implemented"    // 501
	CodeUnavailable    Code = "unavailable"        // 503
)

// AllCodes lists every code, for the boundary tables' tests.
var AllCodes = []Code{CodeInvalid, CodeUnauthorized, CodeForbidden, CodeQuotaExceeded, CodeNotFound,
	CodeMethod, CodeConflict, CodeGone, CodeTooLarge, CodeUnprocessable, CodeRateLimited, CodeInternal,
	CodeNotImplemented, CodeUnavailable}

// Error is the one error type that crosses package boundaries. Message is
// safe to show to the customer; Err is the cause, logged but never shown.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted public message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error whose cause is err; err's text is not shown to customers.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the Code of err, or CodeInternal when err is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// NotFound is the answer for unknown resources and for other customers'
// resources alike, so existence never leaks.
func NotFound(what string) *Error { return Errorf(CodeNotFound, "%s not found", what) }
