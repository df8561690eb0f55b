package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"

	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/s3store"
)

// openWorkers starts the worker pool of functions (workers are this
// binary, run as `db9 function-worker`) before control, whose Functions
// use cases run on it, and returns their egress and the S3-compatible
// storage s3:// bundles come from (nil: none configured).
func (s *Server) openWorkers(ctx context.Context) (*egress.Fetcher, *s3store.Store, error) {
	fetcher, err := s.fetcher()
	if err != nil {
		return nil, nil, err
	}
	var bundles *s3store.Store
	if c := s.cfg.S3; c.Endpoint != "" {
		bundles, err = s3store.New(s3store.Config{Endpoint: c.Endpoint, Region: c.Region, AccessKey: c.AccessKey,
			SecretKey: c.SecretKey, Insecure: c.Insecure, Buckets: c.Buckets})
		if err != nil {
			return nil, nil, fmt.Errorf("s3 storage: %w", err)
		}
	}
	s.fnp = worker.NewPool(worker.Config{Logger: s.base})
	if err := s.fnp.Open(ctx); err != nil {
		s.fnp = nil
		return nil, nil, fmt.Errorf("open function workers: %w", err)
	}
	return fetcher, bundles, nil
}

// fetcher is the egress of functions. Only tests configure
// UnsafeFetchTrust: one loopback HTTPS origin exempt from the address
// guard, with its certificate's CA trusted.
func (s *Server) fetcher() (*egress.Fetcher, error) {
	t := s.cfg.UnsafeFetchTrust
	if t.Origin == "" {
		return &egress.Fetcher{}, nil
	}
	u, err := url.Parse(t.Origin)
	if err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("unsafe fetch trust: origin %q must be https://<ip>:<port>", t.Origin)
	}
	ap, err := netip.ParseAddrPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("unsafe fetch trust: origin %q must be https://<ip>:<port>: %w", t.Origin, err)
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("unsafe fetch trust: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("unsafe fetch trust: %s holds no PEM certificate", t.CAFile)
	}
	s.log.Warn("functions may fetch a loopback origin (test configuration)", logkey.Addr, net.JoinHostPort(ap.Addr().String(), u.Port()))
	return &egress.Fetcher{Guard: &egress.Guard{UnsafeAllowAddrPorts: []netip.AddrPort{ap}},
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}, nil
}

// closeWorkers ends the workers, after control's Close let the runs in
// progress end.
func (s *Server) closeWorkers(ctx context.Context) error {
	if s.fnp == nil {
		return nil
	}
	err := s.fnp.Close(ctx)
	s.fnp = nil
	if err != nil {
		return fmt.Errorf("close function workers: %w", err)
	}
	return nil
}
