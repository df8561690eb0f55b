package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/db9/db9/internal/platform"
)

// DefaultBaseURL is the API of a local `db9 server` with default flags.
const DefaultBaseURL = "http://127.0.0.1:8080"

// Client talks to one db9 API. A zero Client is not usable, nor is a copy
// (its services point at the original); use New.
type Client struct {
	baseURL string
	http    *http.Client

	// Token is sent as the bearer token when not empty.
	Token string
	// Refresh, when set, is called once after a 401 on an authenticated
	// call; it returns a new token, and the call is retried with it.
	Refresh func(ctx context.Context) (string, error)
	// UserAgent is sent with every request when not empty.
	UserAgent string

	// The API's parts, one service each (c.Databases.Create, ...). They
	// share this Client's plumbing and token.
	Accounts      *AccountsService
	Tokens        *TokensService
	Databases     *DatabasesService
	Users         *UsersService
	Migrations    *MigrationsService
	DataPlane     *DataPlaneService
	FS9           *FS9Service
	Functions     *FunctionsService
	Secrets       *SecretsService
	Observability *ObservabilityService
}

// service is what every service is: a view of the client whose requests
// it sends.
type service struct{ client *Client }

// New returns a client of the API at baseURL (scheme://host[:port], with or
// without a trailing slash). httpClient may be nil.
func New(baseURL string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &URLError{URL: baseURL}
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Minute}
	}
	c := &Client{baseURL: u.String(), http: httpClient}
	c.Accounts = &AccountsService{c}
	c.Tokens = &TokensService{c}
	c.Databases = &DatabasesService{c}
	c.Users = &UsersService{c}
	c.Migrations = &MigrationsService{c}
	c.DataPlane = &DataPlaneService{c}
	c.FS9 = &FS9Service{c}
	c.Functions = &FunctionsService{c}
	c.Secrets = &SecretsService{c}
	c.Observability = &ObservabilityService{c}
	return c, nil
}

// BaseURL returns the API base URL the client talks to.
func (c *Client) BaseURL() string { return c.baseURL }

// URLError reports an API URL that is not an http(s) URL.
type URLError struct{ URL string }

func (e *URLError) Error() string {
	return fmt.Sprintf("invalid API URL %q: want http://host:port or https://host", e.URL)
}

// Error is an error answer of the API: the HTTP status, the API's stable
// snake_case code and its human message.
type Error struct {
	Status     int
	Code       string
	Message    string
	Method     string
	Path       string
	RetryAfter string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("%s (%d %s)", msg, e.Status, e.Code)
	}
	return fmt.Sprintf("%s (%d)", msg, e.Status)
}

// StatusOf returns the HTTP status of an API error, or 0 when err is not one.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// CodeOf returns the API's error code of err, or "" when err is not an API
// error. An answer without a JSON code (a proxy's error page) gets the code
// the API uses for its status, so callers compare codes only.
func CodeOf(err error) platform.Code {
	var e *Error
	if !errors.As(err, &e) {
		return ""
	}
	if e.Code != "" {
		return platform.Code(e.Code)
	}
	return codeOfStatus(e.Status)
}

// codeOfStatus inverts the API's table of statuses for the codes that have
// one status each; quota_exceeded shares 403 and is only ever sent as a code.
func codeOfStatus(status int) platform.Code {
	switch status {
	case http.StatusBadRequest:
		return platform.CodeInvalid
	case http.StatusUnauthorized:
		return platform.CodeUnauthorized
	case http.StatusForbidden:
		return platform.CodeForbidden
	case http.StatusNotFound:
		return platform.CodeNotFound
	case http.StatusMethodNotAllowed:
		return platform.CodeMethod
	case http.StatusConflict:
		return platform.CodeConflict
	case http.StatusGone:
		return platform.CodeGone
	case http.StatusRequestEntityTooLarge:
		return platform.CodeTooLarge
	case http.StatusUnprocessableEntity:
		return platform.CodeUnprocessable
	case http.StatusTooManyRequests:
		return platform.CodeRateLimited
	case http.StatusNotImplemented:
		return platform.CodeNotImplemented
	case http.StatusServiceUnavailable:
		return platform.CodeUnavailable
	}
	if status >= 500 {
		return platform.CodeInternal
	}
	return platform.Code(fmt.Sprintf("http_%d", status))
}

// IsNotFound reports whether err is a not_found answer.
func IsNotFound(err error) bool { return CodeOf(err) == platform.CodeNotFound }

// IsUnauthorized reports whether err is an unauthorized answer.
func IsUnauthorized(err error) bool { return CodeOf(err) == platform.CodeUnauthorized }

// TransportError is a failure to get any HTTP answer: server down, DNS,
// connection reset, timeout.
type TransportError struct {
	URL string
	Err error
}

func (e *TransportError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.URL, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

// call is one request. auth says whether the bearer token is sent (and
// Refresh may run); in is marshalled as JSON when not nil; out, when not
// nil, receives the decoded JSON answer (a *json.RawMessage keeps it raw).
func (c *Client) call(ctx context.Context, method, path string, auth bool, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = b
	}
	return c.callBody(ctx, method, path, auth, "application/json", body, out)
}

// callBody is call with a body already encoded as contentType (a bundle's
// raw bytes, say).
func (c *Client) callBody(ctx context.Context, method, path string, auth bool, contentType string, body []byte, out any) error {
	err := c.once(ctx, method, path, auth, contentType, body, out)
	if auth && c.Refresh != nil && IsUnauthorized(err) {
		tok, rerr := c.Refresh(ctx)
		if rerr != nil {
			return rerr
		}
		c.Token = tok
		err = c.once(ctx, method, path, auth, contentType, body, out)
	}
	return err
}

func (c *Client) once(ctx context.Context, method, path string, auth bool, contentType string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, r)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if auth && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &TransportError{URL: c.baseURL, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return &TransportError{URL: c.baseURL, Err: err}
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode, Method: method, Path: path, RetryAfter: resp.Header.Get("Retry-After")}
		var eb struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		}
		if json.Unmarshal(b, &eb) == nil {
			e.Message, e.Code = eb.Message, eb.Code
		}
		return e
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// unwrapURLError drops net/url's "Post \"http://...\":" prefix, which
// repeats what TransportError already says.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// dbPath is the path of a database (id or name) plus optional suffix.
func dbPath(db string, suffix ...string) string {
	p := "/customer/databases/" + url.PathEscape(db)
	for _, s := range suffix {
		p += "/" + s
	}
	return p
}
