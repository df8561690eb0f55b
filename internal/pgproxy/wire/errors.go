package wire

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
)

// SQLSTATEs the proxy itself sends.
const (
	StateProtocolViolation = "08P01" // protocol_violation
	stateInvalidAuthSpec   = "28000"
	stateInvalidPassword   = "28P01"
	StateUnknownDatabase   = "3D000" // invalid_catalog_name
	StateTooManyConns      = "53300" // too_many_connections
	StateCannotConnectNow  = "57P03" // cannot_connect_now
	StateInternal          = "XX000" // internal_error
	StateFeatureNotSupp    = "0A000" // feature_not_supported
)

// sqlstateByCode is the wire boundary's table of error codes.
var sqlstateByCode = map[platform.Code]string{
	platform.CodeInvalid:        StateProtocolViolation,
	platform.CodeUnauthorized:   stateInvalidPassword,
	platform.CodeForbidden:      stateInvalidAuthSpec,
	platform.CodeQuotaExceeded:  StateTooManyConns,
	platform.CodeNotFound:       StateUnknownDatabase,
	platform.CodeMethod:         StateFeatureNotSupp,
	platform.CodeConflict:       StateCannotConnectNow,
	platform.CodeGone:           StateUnknownDatabase,
	platform.CodeTooLarge:       StateProtocolViolation,
	platform.CodeUnprocessable:  StateProtocolViolation,
	platform.CodeRateLimited:    StateTooManyConns,
	platform.CodeInternal:       StateInternal,
	platform.CodeNotImplemented: StateFeatureNotSupp,
	platform.CodeUnavailable:    StateCannotConnectNow,
}

// SQLSTATE returns the SQLSTATE for an error code.
func SQLSTATE(c platform.Code) string {
	if s, ok := sqlstateByCode[c]; ok {
		return s
	}
	return StateInternal
}

// Error is an error the proxy reports as it is, with its own SQLSTATE
// and hint.
type Error struct {
	Code, Msg, Hint string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// ProtoErr is a protocol violation by the client.
func ProtoErr(msg string) error { return &Error{Code: StateProtocolViolation, Msg: msg} }

// ErrorResponse renders err as a FATAL ErrorResponse. Internal errors get
// a generic message; the cause is the caller's to log.
func ErrorResponse(err error) *pgproto3.ErrorResponse {
	var we *Error
	if errors.As(err, &we) {
		return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: we.Code, Message: we.Msg, Hint: we.Hint}
	}
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Code == platform.CodeInternal {
		return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: StateInternal, Message: "internal error"}
	}
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: SQLSTATE(pe.Code), Message: pe.Message}
}

// WriteError sends err to the client as an ErrorResponse.
func WriteError(w io.Writer, err error) {
	b, encErr := ErrorResponse(err).Encode(nil)
	if encErr == nil {
		_, _ = w.Write(b)
	}
}

// ErrorFields is what the front door would tell a client about err: its
// SQLSTATE, message and hint (internal errors get a generic message).
func ErrorFields(err error) (sqlstate, message, hint string) {
	r := ErrorResponse(err)
	return r.Code, r.Message, r.Hint
}

// Fail reports err to the client when it is one the client should see
// (not a read error on a vanished connection) and logs it.
func Fail(log *slog.Logger, conn net.Conn, err error, stage string) {
	var we *Error
	var pe *platform.Error
	switch {
	case errors.As(err, &we):
		WriteError(conn, err)
		log.Debug("refused", logkey.Stage, stage, logkey.SQLState, we.Code, logkey.Err, we.Msg)
	case errors.As(err, &pe):
		WriteError(conn, err)
		if pe.Code == platform.CodeInternal || pe.Code == platform.CodeUnavailable {
			log.Warn("refused", logkey.Stage, stage, logkey.Err, err)
		} else {
			log.Debug("refused", logkey.Stage, stage, logkey.Err, err)
		}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		log.Debug("client went away", logkey.Stage, stage)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			WriteError(conn, &Error{Code: StateCannotConnectNow, Msg: "timeout during connection startup"})
		} else if _, isTLS := conn.(*tls.Conn); !isTLS {
			WriteError(conn, platform.Wrap(platform.CodeInternal, err, "internal error"))
		}
		log.Debug("startup failed", logkey.Stage, stage, logkey.Err, err)
	}
}
