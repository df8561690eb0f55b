package pgproxy

import (
	"errors"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/platform"
)

// SQLSTATEs the proxy itself sends.
const (
	stateProtocolViolation = "08P01"
	stateInvalidAuthSpec   = "28000"
	stateInvalidPassword   = "28P01"
	stateUnknownDatabase   = "3D000"
	stateTooManyConns      = "53300"
	stateCannotConnectNow  = "57P03"
	stateInternal          = "XX000"
	stateFeatureNotSupp    = "0A000"
)

// sqlstateByCode is the wire boundary's table of error codes.
var sqlstateByCode = map[platform.Code]string{
	platform.CodeInvalid:        stateProtocolViolation,
	platform.CodeUnauthorized:   stateInvalidPassword,
	platform.CodeForbidden:      stateInvalidAuthSpec,
	platform.CodeQuotaExceeded:  stateTooManyConns,
	platform.CodeNotFound:       stateUnknownDatabase,
	platform.CodeMethod:         stateFeatureNotSupp,
	platform.CodeConflict:       stateCannotConnectNow,
	platform.CodeGone:           stateUnknownDatabase,
	platform.CodeTooLarge:       stateProtocolViolation,
	platform.CodeUnprocessable:  stateProtocolViolation,
	platform.CodeRateLimited:    stateTooManyConns,
	platform.CodeInternal:       stateInternal,
	platform.CodeNotImplemented: stateFeatureNotSupp,
	platform.CodeUnavailable:    stateCannotConnectNow,
}

// SQLSTATE returns the SQLSTATE for an error code.
func SQLSTATE(c platform.Code) string {
	if s, ok := sqlstateByCode[c]; ok {
		return s
	}
	return stateInternal
}

// wireError is an error the proxy reports as it is, with its own SQLSTATE
// and hint.
type wireError struct {
	code, msg, hint string
}

func (e *wireError) Error() string { return e.code + ": " + e.msg }

func protoErr(msg string) error { return &wireError{code: stateProtocolViolation, msg: msg} }

// errorResponse renders err as a FATAL ErrorResponse. Internal errors get
// a generic message; the cause is the caller's to log.
func errorResponse(err error) *pgproto3.ErrorResponse {
	var we *wireError
	if errors.As(err, &we) {
		return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: we.code, Message: we.msg, Hint: we.hint}
	}
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Code == platform.CodeInternal {
		return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: stateInternal, Message: "internal error"}
	}
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: SQLSTATE(pe.Code), Message: pe.Message}
}

// writeError sends err to the client as an ErrorResponse.
func writeError(w io.Writer, err error) {
	b, encErr := errorResponse(err).Encode(nil)
	if encErr == nil {
		_, _ = w.Write(b)
	}
}
