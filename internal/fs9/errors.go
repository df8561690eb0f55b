package fs9

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Code is one of FS9.md's error codes.
type Code string

// The error codes of FS9.md.
const (
	ENOENT    Code = "ENOENT"
	EISDIR    Code = "EISDIR"
	ENOTDIR   Code = "ENOTDIR"
	EEXIST    Code = "EEXIST"
	ENOTEMPTY Code = "ENOTEMPTY"
	EACCES    Code = "EACCES"
	EFBIG     Code = "EFBIG"
	EAGAIN    Code = "EAGAIN"
	EAUTH     Code = "EAUTH"
	EINVAL    Code = "EINVAL"
	EPROTO    Code = "EPROTO"
	ENOSYS    Code = "ENOSYS"
	EIO       Code = "EIO"
)

// AllCodes lists every code, for tests that must cover them all.
var AllCodes = []Code{ENOENT, EISDIR, ENOTDIR, EEXIST, ENOTEMPTY, EACCES, EFBIG, EAGAIN, EAUTH, EINVAL, EPROTO, ENOSYS, EIO}

// Error is an fs9 failure with a code and a message safe to show to the
// client; Err is the cause, for logs only.
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

// Errorf builds an Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns err's Code: EIO for errors that are not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EIO
}

// FromPG turns an error of the fs9 SQL functions ("ENOENT: /a/b") into an
// *Error; a permission failure of PostgreSQL itself becomes EACCES, a
// read-only transaction EACCES, anything else EIO with the cause kept.
func FromPG(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if code, msg, ok := strings.Cut(pe.Message, ": "); ok && isCode(code) {
			return &Error{Code: Code(code), Message: msg}
		}
		switch pe.Code {
		case "42501", "25006": // insufficient_privilege, read_only_sql_transaction
			return &Error{Code: EACCES, Message: "permission denied", Err: err}
		case "57014":
			return &Error{Code: EIO, Message: "statement timed out", Err: err}
		}
	}
	return &Error{Code: EIO, Message: "storage error", Err: err}
}

func isCode(s string) bool {
	for _, c := range AllCodes {
		if string(c) == s {
			return true
		}
	}
	return false
}
