package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Limits of one fetch.
const (
	DefaultMaxBody      = 10 << 20 // bytes of a response body
	DefaultMaxRedirects = 10
	DefaultTimeout      = 60 * time.Second // bounded by the run's own timeout too
	maxRequestBody      = 10 << 20
)

// Request is a function's fetch request.
type Request struct {
	Method  string
	URL     string
	Headers [][2]string
	Body    []byte
	// Redirect is "follow" (default), "manual" (the 3xx is returned) or
	// "error" (a redirect fails the fetch), as in the Fetch standard.
	Redirect string
}

// Response is what fetch resolves to; Body is complete and bounded.
type Response struct {
	Status     int
	StatusText string
	Headers    [][2]string
	Body       []byte
	URL        string // the final URL after redirects
	Redirected bool
}

// Error is a fetch the runtime refuses or that failed; Code is EACCES for
// a refused origin or address, EFBIG for a body over the limit, EINVAL for
// a malformed request and EIO for a network failure.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Fetcher performs fetches for functions. The zero value is usable: it
// guards with a zero Guard and the limits above.
type Fetcher struct {
	Guard        *Guard
	TLSConfig    *tls.Config // nil: the system roots
	MaxBody      int64
	MaxRedirects int
	Timeout      time.Duration

	once      sync.Once
	transport *http.Transport
}

func (f *Fetcher) client(allow Allowlist, mode string, redirected *bool) *http.Client {
	f.once.Do(func() {
		g := f.Guard
		if g == nil {
			g = &Guard{}
		}
		f.transport = &http.Transport{
			Proxy:                 nil, // an environment proxy would dial for us, unchecked
			DialContext:           g.DialContext,
			TLSClientConfig:       f.TLSConfig,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		}
	})
	max := f.MaxRedirects
	if max <= 0 {
		max = DefaultMaxRedirects
	}
	return &http.Client{
		Transport: f.transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			switch mode {
			case "manual":
				return http.ErrUseLastResponse
			case "error":
				return &Error{Code: "EIO", Message: "fetch: redirect refused (redirect: \"error\")"}
			}
			if len(via) >= max {
				return &Error{Code: "EIO", Message: fmt.Sprintf("fetch: more than %d redirects", max)}
			}
			if !allow.Allows(req.URL) {
				return &Error{Code: "EACCES", Message: fmt.Sprintf("fetch: redirect to %s, an origin not in the function's network_allowlist", originOf(req.URL))}
			}
			*redirected = true
			return nil
		},
	}
}

func originOf(u *url.URL) string {
	if o, err := Origin(u); err == nil {
		return o
	}
	return u.Scheme + "://" + u.Host
}

// Do performs req if its origin is allowed; every redirect is checked
// against allow as well, and every connection against the Guard.
func (f *Fetcher) Do(ctx context.Context, allow Allowlist, req Request) (*Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil || !u.IsAbs() {
		return nil, &Error{Code: "EINVAL", Message: fmt.Sprintf("fetch: invalid URL %q", req.URL)}
	}
	if !allow.Allows(u) {
		return nil, &Error{Code: "EACCES", Message: fmt.Sprintf("fetch: %s is not in the function's network_allowlist", originOf(u))}
	}
	if len(req.Body) > maxRequestBody {
		return nil, &Error{Code: "EFBIG", Message: fmt.Sprintf("fetch: request body over %d bytes", maxRequestBody)}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, &Error{Code: "EINVAL", Message: "fetch: " + err.Error()}
	}
	for _, h := range req.Headers {
		if strings.EqualFold(h[0], "host") {
			continue // the origin decides the host, not a header
		}
		hr.Header.Add(h[0], h[1])
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", "db9-functions")
	}
	redirected := false
	resp, err := f.client(allow, req.Redirect, &redirected).Do(hr)
	if err != nil {
		return nil, fetchError(err)
	}
	defer resp.Body.Close()
	max := f.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fetchError(err)
	}
	if int64(len(b)) > max {
		return nil, &Error{Code: "EFBIG", Message: fmt.Sprintf("fetch: response body over %d bytes", max)}
	}
	out := &Response{Status: resp.StatusCode, StatusText: strings.TrimSpace(strings.TrimPrefix(resp.Status, fmt.Sprint(resp.StatusCode))),
		Body: b, URL: resp.Request.URL.String(), Redirected: redirected}
	for k, vs := range resp.Header {
		for _, v := range vs {
			out.Headers = append(out.Headers, [2]string{strings.ToLower(k), v})
		}
	}
	return out, nil
}

func fetchError(err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(err, ErrBlocked) {
		return &Error{Code: "EACCES", Message: "fetch: " + blockedMessage(err)}
	}
	return &Error{Code: "EIO", Message: "fetch failed: " + err.Error()}
}

// blockedMessage keeps the guard's reason and drops Go's url.Error wrapping.
func blockedMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error() + " (functions may reach public addresses only)"
}
