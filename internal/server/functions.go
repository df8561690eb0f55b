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

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/worker"
)

// openFunctions starts the worker pool (workers are this binary, run as
// `db9 function-worker`) and the functions use cases.
func (s *Server) openFunctions(ctx context.Context, sealer *auth.Sealer) error {
	fetcher, err := s.fetcher()
	if err != nil {
		return err
	}
	s.fnp = worker.NewPool(worker.Config{Logger: s.log})
	if err := s.fnp.Open(ctx); err != nil {
		return fmt.Errorf("open function workers: %w", err)
	}
	s.fn = control.NewFunctions(control.FunctionsDeps{Catalog: s.cat, Instances: s.inst, Sealer: sealer, Pool: s.fnp,
		Lookup: s.svc.GetDatabase, Fetcher: fetcher, Logger: s.log,
		RunEnded: func(status string) { s.metrics.FunctionRuns.WithLabelValues(status).Inc() }})
	s.svc.OnDatabaseDeleted(s.fn.ForgetDatabase)
	if err := s.fn.Open(ctx); err != nil {
		return fmt.Errorf("open functions: %w", err)
	}
	return nil
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
	s.log.Warn("functions may fetch a loopback origin (test configuration)", "component", "functions", "addr", net.JoinHostPort(ap.Addr().String(), u.Port()))
	return &egress.Fetcher{Guard: &egress.Guard{UnsafeAllowAddrPorts: []netip.AddrPort{ap}},
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}, nil
}

// closeFunctions lets runs in progress end, then ends the workers.
func (s *Server) closeFunctions(ctx context.Context) {
	if s.fn != nil {
		s.fn.Close(ctx)
		s.fn = nil
	}
	if s.fnp != nil {
		_ = s.fnp.Close(ctx)
		s.fnp = nil
	}
}
