package sqlexec

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Request is the body of POST /customer/databases/{id}/sql. Pointers tell a
// field that is absent from one that is empty, so the HTTP layer can decode
// the body straight into a Request.
type Request struct {
	Query       *string           `json:"query,omitempty"`
	FileContent *string           `json:"file_content,omitempty"`
	Params      []json.RawMessage `json:"params,omitempty"`
}

// RequestError is a Request that cannot run; Field names the offending body
// field (query, file_content, params). The HTTP layer answers 400.
type RequestError struct {
	Field   string
	Message string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Message }

// Validate checks that exactly one of query and file_content is given, that
// params come only with query and are JSON values, and that the SQL text can
// travel in a protocol message at all.
func (r Request) Validate() error {
	switch {
	case r.Query == nil && r.FileContent == nil:
		return &RequestError{Field: "query", Message: "one of query or file_content is required"}
	case r.Query != nil && r.FileContent != nil:
		return &RequestError{Field: "file_content", Message: "query and file_content are mutually exclusive"}
	case r.FileContent != nil && r.Params != nil:
		return &RequestError{Field: "params", Message: "params are allowed only with query"}
	}
	field, text := "query", r.Query
	if r.FileContent != nil {
		field, text = "file_content", r.FileContent
	}
	// Protocol strings are NUL-terminated; a NUL would cut the statement.
	if strings.IndexByte(*text, 0) >= 0 {
		return &RequestError{Field: field, Message: "must not contain NUL characters"}
	}
	if len(r.Params) > math.MaxUint16 {
		return &RequestError{Field: "params", Message: fmt.Sprintf("at most %d params are allowed", math.MaxUint16)}
	}
	for i, p := range r.Params {
		if !json.Valid(p) {
			return &RequestError{Field: "params", Message: fmt.Sprintf("params[%d] is not a JSON value", i)}
		}
	}
	return nil
}

// sql returns the statement text of a validated request.
func (r Request) sql() string {
	if r.Query != nil {
		return *r.Query
	}
	return *r.FileContent
}

// Default limits of one response.
const (
	DefaultMaxRows  = 10_000
	DefaultMaxBytes = 10 << 20
)

// Limits bound the rows kept in one Result. Zero fields take the defaults.
type Limits struct {
	MaxRows  int // rows kept in Result.Rows
	MaxBytes int // bytes of JSON-encoded rows kept in Result.Rows
}

func (l Limits) withDefaults() Limits {
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}
