package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

func TestClient_ErrorCarriesStatusCodeAndMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"message":"too many branches cloning","code":"rate_limited"}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL, nil)
	_, err := c.Databases.Branch(context.Background(), "db", BranchRequest{Name: "b"})
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || e.Code != "rate_limited" || e.Message != "too many branches cloning" || e.RetryAfter != "3" {
		t.Fatalf("err = %#v", err)
	}
}

func TestClient_RefreshesOnceOn401(t *testing.T) {
	var calls, refreshes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.WriteHeader(401)
			io.WriteString(w, `{"message":"invalid token","code":"unauthorized"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"name":"x"`) {
			t.Errorf("retried request lost its body: %s", body)
		}
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"abc","name":"x","state":"ACTIVE"}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL+"/", nil)
	c.Token = "stale"
	c.Refresh = func(context.Context) (string, error) { refreshes.Add(1); return "fresh", nil }
	d, err := c.Databases.Create(context.Background(), CreateDatabaseRequest{Name: "x"})
	if err != nil || d.ID != "abc" || calls.Load() != 2 || refreshes.Load() != 1 || c.Token != "fresh" {
		t.Fatalf("d %+v err %v calls %d refreshes %d", d, err, calls.Load(), refreshes.Load())
	}

	// A refreshed token that is rejected too is not refreshed again.
	c.Token = "stale"
	c.Refresh = func(context.Context) (string, error) { refreshes.Add(1); return "still-bad", nil }
	calls.Store(0)
	refreshes.Store(0)
	_, err = c.Databases.List(context.Background(), false)
	if !IsUnauthorized(err) || calls.Load() != 2 || refreshes.Load() != 1 {
		t.Fatalf("err %v calls %d refreshes %d", err, calls.Load(), refreshes.Load())
	}
}

func TestClient_TransportErrorAndBadURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := New(url, nil)
	_, err := c.Accounts.Me(context.Background())
	var te *TransportError
	if !errors.As(err, &te) || te.URL != url {
		t.Fatalf("err = %#v", err)
	}
	for _, bad := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
}

func TestSQLRequest_MarshalJSON(t *testing.T) {
	for _, tt := range []struct {
		req  SQLRequest
		want string
	}{
		{SQLRequest{Query: ""}, `{"query":""}`},
		{SQLRequest{Query: "select $1", Params: []any{1}}, `{"params":[1],"query":"select $1"}`},
		{SQLRequest{FileContent: "select 1;"}, `{"file_content":"select 1;"}`},
	} {
		b, err := tt.req.MarshalJSON()
		if err != nil || string(b) != tt.want {
			t.Errorf("%+v: %s %v, want %s", tt.req, b, err, tt.want)
		}
	}
}

// TestCodeOf_EveryCode: an answer carrying a code is compared by that code;
// one without (a proxy's page) gets the code the API uses for its status.
func TestCodeOf_EveryCode(t *testing.T) {
	for _, code := range platform.AllCodes {
		status := web.Status(code)
		if got := CodeOf(&Error{Status: status, Code: string(code)}); got != code {
			t.Errorf("CodeOf(%d %s) = %q", status, code, got)
		}
		if code == platform.CodeQuotaExceeded { // shares 403 with forbidden
			continue
		}
		if got := CodeOf(&Error{Status: status}); got != code {
			t.Errorf("CodeOf(%d without a code) = %q, want %q", status, got, code)
		}
	}
	if got := CodeOf(fmt.Errorf("wrapped: %w", &Error{Status: 404})); got != platform.CodeNotFound {
		t.Errorf("CodeOf(wrapped 404) = %q", got)
	}
	if got := CodeOf(errors.New("not found")); got != "" {
		t.Errorf("CodeOf(a plain error saying not found) = %q, want none", got)
	}
	if got := CodeOf(&Error{Status: 418}); got != "http_418" {
		t.Errorf("CodeOf(418) = %q", got)
	}
	if !IsNotFound(&Error{Status: 404, Code: "not_found"}) || IsNotFound(&Error{Status: 403, Code: "quota_exceeded"}) {
		t.Error("IsNotFound")
	}
}
