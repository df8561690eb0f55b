package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/db9/db9/internal/s3store"
)

// fakeS3 serves an in-memory S3-compatible storage holding bucket
// "bundles" with the given objects, and an empty bucket "empty".
func fakeS3(t *testing.T, objects map[string][]byte) *httptest.Server {
	t.Helper()
	mem := s3mem.New()
	for _, b := range []string{"bundles", "empty"} {
		if err := mem.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range objects {
		if _, err := mem.PutObject("bundles", k, map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, bytes.NewReader(v), int64(len(v)), nil); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(mem).Server())
	t.Cleanup(srv.Close)
	return srv
}

func newStore(t *testing.T, endpoint string) *s3store.Store {
	t.Helper()
	s, err := s3store.New(s3store.Config{Endpoint: endpoint, Region: "us-east-1", AccessKey: "key", SecretKey: "secret",
		Buckets: []string{"bundles", "empty", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_Get(t *testing.T) {
	srv := fakeS3(t, map[string][]byte{"fn/index.js": []byte("exports.handler = () => 1"), "big.js": bytes.Repeat([]byte("x"), 2048)})
	s := newStore(t, srv.URL)
	ctx := context.Background()
	b, err := s.Get(ctx, "bundles", "fn/index.js", 1024)
	if err != nil || string(b) != "exports.handler = () => 1" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	cases := []struct{ bucket, key, says string }{
		{"bundles", "nope.js", "does not exist"},
		{"empty", "x.js", "does not exist"},
		{"missing", "x.js", "does not exist"},
		{"other", "x.js", "not one this server deploys bundles from"},
		{"bundles", "big.js", "2048 bytes, more than the 1024 allowed"},
	}
	for _, c := range cases {
		_, err := s.Get(ctx, c.bucket, c.key, 1024)
		var oe *s3store.ObjectError
		if !errors.As(err, &oe) || !strings.Contains(oe.Message, c.says) {
			t.Errorf("Get(%s, %s) = %v; want an ObjectError saying %q", c.bucket, c.key, err, c.says)
		}
	}
}

// The storage being down is the server's trouble, not the reference's.
func TestStore_Get_Unreachable(t *testing.T) {
	srv := fakeS3(t, nil)
	s := newStore(t, srv.URL)
	srv.Close()
	_, err := s.Get(context.Background(), "bundles", "x.js", 1024)
	var oe *s3store.ObjectError
	if err == nil || errors.As(err, &oe) {
		t.Fatalf("Get from a closed storage = %v; want a plain error", err)
	}
}

func TestParseRef(t *testing.T) {
	for ref, want := range map[string]string{"s3://b/k": "b|k", "s3://b/dir/k.zip": "b|dir/k.zip", "s3://b/": "", "s3:///k": "", "s3://b": "", "fs9:///x": ""} {
		b, k, err := s3store.ParseRef(ref)
		got := b + "|" + k
		if err != nil {
			got = ""
		}
		if got != want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	ok := s3store.Config{Endpoint: "127.0.0.1:9000", Insecure: true, Buckets: []string{"b"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]s3store.Config{
		"no buckets":          {Endpoint: "s3.example.com"},
		"bad bucket":          {Endpoint: "s3.example.com", Buckets: []string{"a/b"}},
		"key without secret":  {Endpoint: "s3.example.com", Buckets: []string{"b"}, AccessKey: "k"},
		"https and insecure":  {Endpoint: "https://s3.example.com", Insecure: true, Buckets: []string{"b"}},
		"endpoint with path":  {Endpoint: "https://s3.example.com/x", Buckets: []string{"b"}},
		"endpoint bad scheme": {Endpoint: "ftp://s3.example.com", Buckets: []string{"b"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
