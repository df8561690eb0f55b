package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
)

// wantStatus is the HTTP boundary table as API.md and platform's code
// comments define it. A code added to platform.AllCodes without a row here
// (and in statusByCode) fails TestStatus_AllCodes_Table.
var wantStatus = map[platform.Code]int{
	platform.CodeInvalid:        400,
	platform.CodeUnauthorized:   401,
	platform.CodeForbidden:      403,
	platform.CodeQuotaExceeded:  403,
	platform.CodeNotFound:       404,
	platform.CodeMethod:         405,
	platform.CodeConflict:       409,
	platform.CodeGone:           410,
	platform.CodeTooLarge:       413,
	platform.CodeUnprocessable:  422,
	platform.CodeRateLimited:    429,
	platform.CodeInternal:       500,
	platform.CodeNotImplemented: 501,
	platform.CodeUnavailable:    503,
}

func TestStatus_AllCodes_Table(t *testing.T) {
	for _, c := range platform.AllCodes {
		want, ok := wantStatus[c]
		if !ok {
			t.Errorf("code %q has no expected HTTP status in this test: add it here and to statusByCode", c)
			continue
		}
		if _, ok := statusByCode[c]; !ok {
			t.Errorf("code %q is missing from statusByCode", c)
		}
		if got := Status(c); got != want {
			t.Errorf("Status(%q) = %d, want %d", c, got, want)
		}
	}
	if len(statusByCode) != len(platform.AllCodes) {
		t.Errorf("statusByCode has %d codes, platform.AllCodes %d", len(statusByCode), len(platform.AllCodes))
	}
	if got := Status("no_such_code"); got != 500 {
		t.Errorf("Status(unknown) = %d, want 500", got)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// decodeError checks that a response is a JSON error body and returns it.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if len(body) != 2 {
		t.Errorf("body %s has fields other than message and code", rec.Body.String())
	}
	msg, _ := body["message"].(string)
	code, _ := body["code"].(string)
	return ErrorBody{Message: msg, Code: code}
}

func TestAdapter_WriteError_EveryCode(t *testing.T) {
	a := NewAdapter(discardLogger())
	for _, c := range platform.AllCodes {
		t.Run(string(c), func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/x", nil)
			a.WriteError(rec, req, platform.Wrap(c, errors.New("secret cause 7f3a"), "public message"))
			if rec.Code != Status(c) {
				t.Errorf("status = %d, want %d", rec.Code, Status(c))
			}
			got := decodeError(t, rec)
			want := ErrorBody{Message: "public message", Code: string(c)}
			if c == platform.CodeInternal {
				want.Message = "internal error"
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if strings.Contains(rec.Body.String(), "7f3a") {
				t.Errorf("cause leaked into body %s", rec.Body.String())
			}
			retry := rec.Header().Get("Retry-After")
			if wantRetry := c == platform.CodeUnavailable || c == platform.CodeRateLimited; wantRetry != (retry != "") {
				t.Errorf("Retry-After = %q; want set: %v", retry, wantRetry)
			}
		})
	}
}

func TestAdapter_WriteError_Internal(t *testing.T) {
	a := NewAdapter(discardLogger())
	tests := []struct {
		name string
		err  error
	}{
		{"PlainError", errors.New("dial unix /dev/shm/db9/dbs/abc/s: password=hunter2")},
		{"WrappedPlatformInternal", platform.Wrap(platform.CodeInternal, errors.New("password=hunter2"), "password=hunter2 in message")},
		{"PlatformErrorBehindWrap", errors.Join(errors.New("password=hunter2"), platform.Errorf(platform.CodeInternal, "password=hunter2"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			a.WriteError(rec, httptest.NewRequest("POST", "/y", nil), tt.err)
			if rec.Code != 500 {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			got := decodeError(t, rec)
			if diff := cmp.Diff(ErrorBody{Message: "internal error", Code: "internal"}, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if strings.Contains(rec.Body.String(), "hunter2") {
				t.Errorf("cause leaked: %s", rec.Body.String())
			}
		})
	}
}

// TestMiddleware_LogsAsHTTPComponent: both the access line and the failure
// line carry the component once, and the request id under its fixed key.
func TestMiddleware_LogsAsHTTPComponent(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	mux.Handle("GET /boom", NewAdapter(log).Handle(func(http.ResponseWriter, *http.Request) error {
		return errors.New("boom")
	}))
	rec := httptest.NewRecorder()
	Middleware(mux, log).ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a failure line and an access line, got:\n%s", buf.String())
	}
	id := rec.Header().Get("X-Request-Id")
	for _, l := range lines {
		if strings.Count(l, logkey.Component+"=") != 1 || !strings.Contains(l, logkey.Component+"=http") ||
			!strings.Contains(l, logkey.ReqID+"="+id) {
			t.Errorf("log line %q: want component=http once and req_id=%s", l, id)
		}
	}
}

func TestAdapter_Handle_WrappedPlatformError(t *testing.T) {
	a := NewAdapter(discardLogger())
	h := a.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return errors.Join(errors.New("context"), platform.NotFound("database"))
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 404 {
		t.Errorf("status = %d, want 404", rec.Code)
	}
	if diff := cmp.Diff(ErrorBody{Message: "database not found", Code: "not_found"}, decodeError(t, rec)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, map[string]string{"ok": "yes"}) }
	mux.HandleFunc("GET /things", ok)
	mux.HandleFunc("POST /things", ok)
	mux.HandleFunc("DELETE /things/{id}", ok)
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom: password=hunter2") })
	return mux
}

func TestMiddleware_ServeHTTP(t *testing.T) {
	h := Middleware(testMux(), discardLogger())
	tests := []struct {
		name       string
		method     string
		path       string
		status     int
		code       string // "" for a success body
		allow      string
		hideInBody string
	}{
		{name: "Found", method: "GET", path: "/things", status: 200},
		{name: "FoundPost", method: "POST", path: "/things", status: 200},
		{name: "UnknownPath", method: "GET", path: "/nope", status: 404, code: "not_found"},
		{name: "UnknownSubPath", method: "DELETE", path: "/things/1/more", status: 404, code: "not_found"},
		{name: "WrongMethod", method: "PUT", path: "/things", status: 405, code: "method_not_allowed", allow: "GET, POST"},
		{name: "WrongMethodWithWildcard", method: "GET", path: "/things/42", status: 405, code: "method_not_allowed", allow: "DELETE"},
		{name: "Panic", method: "GET", path: "/panic", status: 500, code: "internal", hideInBody: "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body.String())
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id header")
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if tt.code == "" {
				return
			}
			got := decodeError(t, rec)
			if got.Code != tt.code || got.Message == "" {
				t.Errorf("body = %+v, want code %q and a message", got, tt.code)
			}
			if tt.hideInBody != "" && strings.Contains(rec.Body.String(), tt.hideInBody) {
				t.Errorf("panic value leaked: %s", rec.Body.String())
			}
		})
	}
}

func TestMiddleware_ServeHTTP_RequestIDsDiffer(t *testing.T) {
	h := Middleware(testMux(), discardLogger())
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/things", nil))
		id := rec.Header().Get("X-Request-Id")
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestReadBody_Limits(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		code platform.Code // "" = accepted
	}{
		{"Empty", nil, ""},
		{"ExactlyMax", bytes.Repeat([]byte("a"), MaxBodyBytes), ""},
		{"OverMax", bytes.Repeat([]byte("a"), MaxBodyBytes+1), platform.CodeTooLarge},
		{"FarOverMax", bytes.Repeat([]byte("a"), 2*MaxBodyBytes), platform.CodeTooLarge},
		{"InvalidUTF8", []byte("{\"query\":\"\xff\xfe\"}"), platform.CodeInvalid},
		{"TruncatedUTF8", []byte("\xe2\x82"), platform.CodeInvalid},
		{"ValidUTF8", []byte(`{"q":"€ ✓"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(tt.body))
			b, err := ReadBody(r)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ReadBody: %v", err)
				}
				if !bytes.Equal(b, tt.body) {
					t.Errorf("ReadBody returned %d bytes, want %d", len(b), len(tt.body))
				}
				return
			}
			if got := platform.ErrorCode(err); got != tt.code {
				t.Fatalf("ReadBody error code = %q (%v), want %q", got, err, tt.code)
			}
			rec := httptest.NewRecorder()
			NewAdapter(discardLogger()).WriteError(rec, r, err)
			if want := map[platform.Code]int{platform.CodeTooLarge: 413, platform.CodeInvalid: 400}[tt.code]; rec.Code != want {
				t.Errorf("written status = %d, want %d", rec.Code, want)
			}
		})
	}
}

// errReader fails mid-body, as a client that disconnects does.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestReadBody_ReadError(t *testing.T) {
	_, err := ReadBody(httptest.NewRequest("POST", "/", errReader{}))
	if got := platform.ErrorCode(err); got != platform.CodeInvalid {
		t.Fatalf("code = %q (%v), want invalid_request", got, err)
	}
}

func TestUnmarshal_Errors(t *testing.T) {
	type inner struct {
		Count int `json:"count"`
	}
	type body struct {
		Name   string   `json:"name"`
		Params []string `json:"params"`
		Flag   bool     `json:"flag"`
		Inner  inner    `json:"inner"`
	}
	tests := []struct {
		name    string
		in      string
		emptyOK bool
		want    []string // substrings of the message; nil = success
	}{
		{name: "OK", in: `{"name":"a","params":["x"],"flag":true,"inner":{"count":2}}`},
		{name: "EmptyAllowed", in: " \n", emptyOK: true},
		{name: "EmptyRefused", in: "", want: []string{"JSON object"}},
		{name: "NumberForString", in: `{"name":5}`, want: []string{"name", "a string", "number"}},
		{name: "StringForArray", in: `{"params":"x"}`, want: []string{"params", "an array", "string"}},
		{name: "StringForBool", in: `{"flag":"yes"}`, want: []string{"flag", "a boolean"}},
		{name: "NestedField", in: `{"inner":{"count":"two"}}`, want: []string{"inner.count", "a number"}},
		{name: "NotAnObject", in: `[1,2]`, want: []string{"JSON object"}},
		{name: "TrailingData", in: `{"name":"a"} {}`, want: []string{"after the JSON object"}},
		{name: "TrailingBrace", in: `{"name":"a"}}`, want: []string{"after the JSON object"}},
		{name: "Malformed", in: `{"name":`, want: []string{"not valid JSON"}},
		{name: "UnicodeSpaceIsNotJSON", in: "\u00a0{}", want: []string{"JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v body
			err := Unmarshal([]byte(tt.in), &v, tt.emptyOK)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				return
			}
			var pe *platform.Error
			if !errors.As(err, &pe) || pe.Code != platform.CodeInvalid {
				t.Fatalf("Unmarshal error = %v, want an invalid_request platform.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(pe.Message, w) {
					t.Errorf("message %q does not mention %q", pe.Message, w)
				}
			}
		})
	}
}

func TestDecodeJSON_TooLarge(t *testing.T) {
	big := `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	var v struct{ Name string }
	err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(big)), &v, false)
	if got := platform.ErrorCode(err); got != platform.CodeTooLarge {
		t.Fatalf("code = %q (%v), want payload_too_large", got, err)
	}
}

func TestWriteJSON_Headers(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, 201, map[string]int{"a": 1})
	if rec.Code != 201 {
		t.Errorf("status = %d, want 201", rec.Code)
	}
	if got, want := rec.Body.String(), "{\"a\":1}\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if got := rec.Header().Get("Content-Length"); got != "8" {
		t.Errorf("Content-Length = %q, want 8", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
}

// routeRecorder is a layer around Middleware that wants the route.
type routeRecorder struct {
	*httptest.ResponseRecorder
	routes []string
}

func (r *routeRecorder) SetRoute(pattern string) { r.routes = append(r.routes, pattern) }

// TestMiddleware_SetRoute: the layer around Middleware is told the
// pattern Middleware matched, once, before the handler runs; "" when none
// matches.
func TestMiddleware_SetRoute(t *testing.T) {
	mux := http.NewServeMux()
	var atHandler int
	var rec *routeRecorder
	mux.HandleFunc("POST /customer/databases/{database_id}/functions/{function_id}/invoke", func(w http.ResponseWriter, r *http.Request) {
		atHandler = len(rec.routes)
	})
	h := Middleware(mux, slog.New(slog.DiscardHandler))
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/customer/databases/db1/functions/f/invoke", "POST /customer/databases/{database_id}/functions/{function_id}/invoke"},
		{"GET", "/customer/databases/db1/functions/f/invoke", ""},
		{"POST", "/nope", ""},
	} {
		rec = &routeRecorder{ResponseRecorder: httptest.NewRecorder()}
		atHandler = -1
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if diff := cmp.Diff([]string{tc.want}, rec.routes); diff != "" {
			t.Errorf("%s %s: routes (-want +got):\n%s", tc.method, tc.path, diff)
		}
		if tc.want != "" && atHandler != 1 {
			t.Errorf("%s %s: route told %d times before the handler ran, want 1", tc.method, tc.path, atHandler)
		}
	}
}
