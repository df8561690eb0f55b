package jwtverify

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a token that does not verify (the data API answers
// 401). Its message says why and never contains the token.
var ErrInvalid = errors.New("invalid JWT")

// ErrExpired marks a token past its exp (plus the clock skew); it also
// matches ErrInvalid.
var ErrExpired = &expiredError{}

// ErrUnavailable marks keys that could not be had: the JWKS fetch failed
// and nothing is cached. The token may be fine; the data API still answers
// 401 since it cannot be verified, but logs this differently.
var ErrUnavailable = errors.New("JWKS unavailable")

type expiredError struct{}

func (*expiredError) Error() string        { return "JWT expired" }
func (*expiredError) Is(target error) bool { return target == ErrInvalid }

// InvalidError is a token that does not verify, with the reason; it
// matches ErrInvalid. Callers that word the reason their own way take
// Reason instead of rewriting the error's text.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string        { return ErrInvalid.Error() + ": " + e.Reason }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}
