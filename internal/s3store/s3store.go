package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config is where the storage is and what may be read from it.
type Config struct {
	// Endpoint is host[:port], or a URL http(s)://host[:port].
	Endpoint string
	// Region of the buckets; empty: asked of the storage.
	Region string
	// AccessKey and SecretKey sign requests; both empty: anonymous.
	AccessKey string
	SecretKey string
	// Insecure speaks plain HTTP to an Endpoint given without scheme
	// (an http:// Endpoint does so anyway).
	Insecure bool
	// Buckets are the only buckets objects are read from.
	Buckets []string
}

// Validate checks c without I/O; the server refuses to start on its error.
func (c Config) Validate() error {
	if _, _, err := c.endpoint(); err != nil {
		return err
	}
	if len(c.Buckets) == 0 {
		return errors.New("--s3-buckets: name the buckets function bundles may be deployed from (every customer may deploy any object in them)")
	}
	for _, b := range c.Buckets {
		if b == "" || strings.ContainsAny(b, "/ ") {
			return fmt.Errorf("--s3-buckets: %q is not a bucket name", b)
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("--s3-access-key and --s3-secret-key must be given together")
	}
	return nil
}

// endpoint returns the host[:port] the client dials and whether over TLS.
func (c Config) endpoint() (string, bool, error) {
	e := strings.TrimSuffix(c.Endpoint, "/")
	if e == "" {
		return "", false, errors.New("--s3-endpoint: empty")
	}
	if !strings.Contains(e, "://") {
		return e, !c.Insecure, nil
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
		return "", false, fmt.Errorf("--s3-endpoint %q: want host[:port] or http(s)://host[:port]", c.Endpoint)
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, nil
	case "https":
		if c.Insecure {
			return "", false, fmt.Errorf("--s3-endpoint %q is https: --s3-insecure contradicts it", c.Endpoint)
		}
		return u.Host, true, nil
	}
	return "", false, fmt.Errorf("--s3-endpoint %q: scheme must be http or https", c.Endpoint)
}

// ObjectError is an object that cannot be read because of how it was
// named or what it is; Message is safe to show to the customer.
type ObjectError struct {
	Message string
}

func (e *ObjectError) Error() string { return e.Message }

func objectErrorf(format string, args ...any) error {
	return &ObjectError{Message: fmt.Sprintf(format, args...)}
}

// ParseRef splits "s3://<bucket>/<key>".
func ParseRef(ref string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(ref, "s3://")
	if !ok {
		return "", "", objectErrorf("%q is not s3://<bucket>/<key>", ref)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", objectErrorf("%q is not s3://<bucket>/<key>", ref)
	}
	return bucket, key, nil
}

// Store reads objects. New does no I/O; a Store is safe for concurrent use
// and needs no Close.
type Store struct {
	c       *minio.Client
	buckets []string
	timeout time.Duration
}

// New returns a Store for a valid c.
func New(c Config) (*Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	host, secure, _ := c.endpoint()
	creds := credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")
	client, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: c.Region,
		// A deploy waits on the read: a few retries, not the default ten.
		MaxRetries: 3,
		// Never a proxy from the environment: the operator named the endpoint.
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
			ResponseHeaderTimeout: 30 * time.Second, TLSHandshakeTimeout: 10 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return &Store{c: client, buckets: slices.Clone(c.Buckets), timeout: 60 * time.Second}, nil
}

// Get reads the whole object bucket/key, at most max bytes.
func (s *Store) Get(ctx context.Context, bucket, key string, max int64) ([]byte, error) {
	if !slices.Contains(s.buckets, bucket) {
		return nil, objectErrorf("bucket %q is not one this server deploys bundles from", bucket)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	obj, err := s.c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.readError(bucket, key, err)
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		return nil, s.readError(bucket, key, err)
	}
	if info.Size > max {
		return nil, objectErrorf("s3://%s/%s is %d bytes, more than the %d allowed", bucket, key, info.Size, max)
	}
	b, err := io.ReadAll(io.LimitReader(obj, max+1))
	if err != nil {
		return nil, s.readError(bucket, key, err)
	}
	if int64(len(b)) > max { // the object changed under us
		return nil, objectErrorf("s3://%s/%s is more than the %d bytes allowed", bucket, key, max)
	}
	return b, nil
}

// readError tells the caller's mistakes (4xx) from the storage's trouble.
func (s *Store) readError(bucket, key string, err error) error {
	var er minio.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode >= 500 || er.StatusCode == 0 && er.Code == "" {
		return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	switch er.Code {
	case "NoSuchKey":
		return objectErrorf("s3://%s/%s does not exist", bucket, key)
	case "NoSuchBucket":
		return objectErrorf("bucket %q does not exist", bucket)
	case "AccessDenied":
		return objectErrorf("s3://%s/%s: access denied to this server's credentials", bucket, key)
	}
	if er.StatusCode == http.StatusNotFound {
		return objectErrorf("s3://%s/%s does not exist", bucket, key)
	}
	if er.StatusCode >= 400 && er.StatusCode < 500 {
		// The code only: the storage's message may echo request details.
		return objectErrorf("s3://%s/%s cannot be read: %s", bucket, key, er.Code)
	}
	return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
}
