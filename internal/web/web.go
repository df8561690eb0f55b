package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
)

// MaxBodyBytes is the largest request body accepted (API.md: 10 MiB).
const MaxBodyBytes = 10 << 20

// statusByCode is the HTTP boundary's table of error codes.
var statusByCode = map[platform.Code]int{
	platform.CodeInvalid:        http.StatusBadRequest,
	platform.CodeUnauthorized:   http.StatusUnauthorized,
	platform.CodeForbidden:      http.StatusForbidden,
	platform.CodeQuotaExceeded:  http.StatusForbidden,
	platform.CodeNotFound:       http.StatusNotFound,
	platform.CodeMethod:         http.StatusMethodNotAllowed,
	platform.CodeConflict:       http.StatusConflict,
	platform.CodeGone:           http.StatusGone,
	platform.CodeTooLarge:       http.StatusRequestEntityTooLarge,
	platform.CodeUnprocessable:  http.StatusUnprocessableEntity,
	platform.CodeRateLimited:    http.StatusTooManyRequests,
	platform.CodeInternal:       http.StatusInternalServerError,
	platform.CodeNotImplemented: http.StatusNotImplemented,
	platform.CodeUnavailable:    http.StatusServiceUnavailable,
}

// Status returns the HTTP status for an error code.
func Status(c platform.Code) int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// HandlerFunc is an HTTP handler that returns an error for the adapter to write.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Adapter turns HandlerFuncs into http.Handlers, writing errors in one place.
// Build it with NewAdapter.
type Adapter struct{ log *slog.Logger }

// NewAdapter returns an adapter that logs failures (5xx) to log as the
// http component.
func NewAdapter(log *slog.Logger) Adapter {
	return Adapter{log: log.With(logkey.Component, component)}
}

// component is the name the HTTP surfaces log under.
const component = "http"

// Handle adapts h.
func (a Adapter) Handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.WriteError(w, r, err)
		}
	})
}

// WriteError writes err as a JSON error. Internal errors get a generic
// message; their cause goes to the log only.
func (a Adapter) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *platform.Error
	if !errors.As(err, &pe) {
		pe = &platform.Error{Code: platform.CodeInternal, Message: "internal error", Err: err}
	}
	status := Status(pe.Code)
	if status >= 500 {
		a.log.Error("request failed", logkey.ReqID, RequestID(r), logkey.Method, r.Method, logkey.Path, r.URL.Path,
			logkey.Code, string(pe.Code), logkey.Err, pe)
	}
	if pe.Code == platform.CodeInternal {
		pe = &platform.Error{Code: platform.CodeInternal, Message: "internal error"}
	}
	if pe.Code == platform.CodeRateLimited || pe.Code == platform.CodeUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, status, ErrorBody{Message: pe.Message, Code: string(pe.Code)})
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message":"internal error","code":"internal"}`)
	}
	WriteJSONBody(w, status, append(b, '\n'))
}

// contentTypeJSON is shared by every response: net/http only reads header
// values, and a response's header map is its own.
var contentTypeJSON = []string{"application/json"}

// WriteJSONBody writes body, JSON text ending in a newline, as the response
// in one piece with its Content-Length, so net/http sends headers and body
// in one write.
func WriteJSONBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ReadBody reads a request body of at most MaxBodyBytes; a larger one is a
// 413, invalid UTF-8 a 400.
func ReadBody(r *http.Request) ([]byte, error) {
	var b []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= MaxBodyBytes {
		// The length is known (and enforced by net/http): read it in one
		// buffer of its size instead of growing one.
		b = make([]byte, n)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	}
	if err != nil {
		return nil, platform.Wrap(platform.CodeInvalid, err, "could not read request body")
	}
	if len(b) > MaxBodyBytes {
		return nil, platform.Errorf(platform.CodeTooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	}
	if !utf8.Valid(b) {
		return nil, platform.Errorf(platform.CodeInvalid, "request body is not valid UTF-8")
	}
	return b, nil
}

// DecodeJSON reads a JSON object body into v. An empty body is allowed when
// emptyOK (v keeps its zero value). Type errors name the field.
func DecodeJSON(r *http.Request, v any, emptyOK bool) error {
	b, err := ReadBody(r)
	if err != nil {
		return err
	}
	return Unmarshal(b, v, emptyOK)
}

// Unmarshal decodes a JSON object into v with the errors of DecodeJSON.
func Unmarshal(b []byte, v any, emptyOK bool) error {
	// Only JSON's own whitespace: bytes.TrimSpace would also drop Unicode
	// spaces (U+00A0, U+0085) and accept bodies that are not JSON.
	trimmed := bytes.Trim(b, " \t\r\n")
	if len(trimmed) == 0 {
		if emptyOK {
			return nil
		}
		return platform.Errorf(platform.CodeInvalid, "request body must be a JSON object")
	}
	if trimmed[0] != '{' {
		return platform.Errorf(platform.CodeInvalid, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "body"
			}
			return platform.Errorf(platform.CodeInvalid, "%s: expected %s, got JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return platform.Errorf(platform.CodeInvalid, "request body is not valid JSON: %v", err)
	}
	// Not dec.More: it reports false for a trailing '}' or ']'.
	if dec.InputOffset() != int64(len(trimmed)) {
		return platform.Errorf(platform.CodeInvalid, "request body has data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	}
	return k
}

// Request ids are a per-process random prefix and a counter: unique
// enough for logs, and free of a random-number syscall per request.
var (
	reqPrefix  = platform.NewID(6)
	reqCounter atomic.Uint64
)

func nextRequestID() string {
	return reqPrefix + "-" + strconv.FormatUint(reqCounter.Add(1), 36)
}

type ctxKey int

const reqIDKey ctxKey = 0

// RequestID returns the id the middleware gave the request.
func RequestID(r *http.Request) string {
	s, _ := r.Context().Value(reqIDKey).(string)
	return s
}

// Middleware wraps the routes: request ids, panic recovery, access log and
// JSON answers for unknown paths and wrong methods.
func Middleware(mux *http.ServeMux, log *slog.Logger) http.Handler {
	a := NewAdapter(log)
	log = log.With(logkey.Component, component)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := nextRequestID()
		r = r.WithContext(contextWithValue(r, id))
		w.Header().Set("X-Request-Id", id)
		// The access log is at debug level: off the hot path unless enabled
		// (its arguments alone would cost allocations on every request).
		logged := log.Enabled(r.Context(), slog.LevelDebug)
		var start time.Time
		if logged {
			start = time.Now()
		}
		sw := &statusWriter{ResponseWriter: w, status: 200}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.WriteError(sw, r, fmt.Errorf("panic: %v", v))
			}
			if logged {
				log.Debug("http", logkey.ReqID, id, logkey.Method, r.Method, logkey.Path, r.URL.Path, logkey.Status, sw.status,
					logkey.Ms, time.Since(start).Milliseconds())
			}
		}()
		_, pattern := mux.Handler(r)
		if rs, ok := w.(RouteSetter); ok {
			rs.SetRoute(pattern)
		}
		if pattern == "" {
			if allowed := allowedMethods(mux, r); allowed != "" {
				sw.Header().Set("Allow", allowed)
				a.WriteError(sw, r, platform.Errorf(platform.CodeMethod, "method %s not allowed on %s", r.Method, r.URL.Path))
				return
			}
			a.WriteError(sw, r, platform.Errorf(platform.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

// RouteSetter is a ResponseWriter, of a layer around Middleware, that
// wants the route pattern Middleware matched ("" for none) and so need not
// match the request once more (observe.Metrics.HTTP). Middleware calls
// SetRoute before it serves the request.
type RouteSetter interface {
	SetRoute(pattern string)
}

func allowedMethods(mux *http.ServeMux, r *http.Request) string {
	var out []byte
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := mux.Handler(r2); p != "" {
			if len(out) > 0 {
				out = append(out, ", "...)
			}
			out = append(out, m...)
		}
	}
	return string(out)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
