package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsserver"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// fs9 wiring (FS9.md "WebSocket protocol"): the protocol server is
// mounted at GET /fs9 on the HTTP server and, unless --fs9-addr is empty,
// served on a listener of its own for any path, which is where DB9's SDK
// dials (ws://<host>:5480/). That listener speaks TLS (wss) only when the
// operator gave --tls-cert: the self-signed default certificate would make
// every client fail verification, and DB9's SDK dials plain ws.

// openFS9 creates the protocol server, mounts it on mux and opens its
// listener. It records the URL fs-connect hands out when there is one.
func (s *Server) openFS9(ctx context.Context, wire *control.WireAccess, conn placement.Connector, tlsCfg *tls.Config, mux *http.ServeMux) error {
	s.fs9 = wsserver.New(wsserver.Config{Auth: fs9Auth{wire}, Backend: fs9Backend{conn}, Logger: s.base})
	mux.Handle("GET /fs9", s.fs9)
	if s.cfg.FS9Addr == "" {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.FS9Addr)
	if err != nil {
		return fmt.Errorf("listen on --fs9-addr %s: %w", s.cfg.FS9Addr, err)
	}
	scheme := "ws"
	if s.cfg.TLSCert != "" {
		c := tlsCfg.Clone()
		c.NextProtos = []string{"http/1.1"} // WebSocket upgrades are HTTP/1.1
		ln, scheme = tls.NewListener(ln, c), "wss"
	}
	s.fs9ln = ln
	s.fs9http = &http.Server{
		Handler:           s.fs9,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.fs9log().Handler(), slog.LevelDebug),
	}
	s.fs9done = make(chan struct{})
	go func(hs *http.Server, done chan struct{}) {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fs9log().Error("fs9 listener failed", logkey.Err, err)
		}
	}(s.fs9http, s.fs9done)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	wire.WithFS9(scheme + "://" + net.JoinHostPort(s.cfg.PublicHost, port) + "/")
	return nil
}

// fs9HTTPURL makes fs-connect point at /fs9 on the HTTP server when there
// is no fs9 listener; httpLn is the HTTP server's listener.
func (s *Server) fs9HTTPURL(wire *control.WireAccess, httpLn net.Listener) {
	if s.cfg.FS9Addr != "" {
		return
	}
	_, port, _ := net.SplitHostPort(httpLn.Addr().String())
	wire.WithFS9("ws://" + net.JoinHostPort(s.cfg.PublicHost, port) + "/fs9")
}

// fs9Addr is the address of the fs9 listener ("" when there is none).
func (s *Server) fs9Addr() string {
	if s.fs9ln == nil {
		return ""
	}
	return s.fs9ln.Addr().String()
}

// fs9log is the logger of the server's fs9 wiring.
func (s *Server) fs9log() *slog.Logger { return s.base.With(logkey.Component, "fs9") }

// closeFS9 ends every fs9 connection (they hold leases) and the listener,
// and waits for the listener's goroutine.
func (s *Server) closeFS9(ctx context.Context) error {
	var errs []error
	if s.fs9http != nil {
		// upgraded connections are the wsserver's to end
		if err := s.fs9http.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close fs9 listener: %w", err))
		}
		<-s.fs9done
		s.fs9http, s.fs9ln, s.fs9done = nil, nil, nil
	}
	if s.fs9 != nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.fs9.Close(cctx); err != nil {
			errs = append(errs, fmt.Errorf("close fs9 connections: %w", err))
		}
		cancel()
		s.fs9 = nil
	}
	return errors.Join(errs...)
}

// fs9Auth checks auth frames with the front door's credentials.
type fs9Auth struct{ wire *control.WireAccess }

func (a fs9Auth) Authenticate(ctx context.Context, username, password string) (wsserver.Identity, error) {
	sess, err := a.wire.FSLogin(ctx, username, password)
	if err != nil {
		var pe *platform.Error
		if !errors.As(err, &pe) {
			return wsserver.Identity{}, err
		}
		switch pe.Code {
		case platform.CodeUnauthorized, platform.CodeNotFound:
			// An unknown database is bad credentials: nothing tells
			// which databases exist.
			return wsserver.Identity{}, fs9.Errorf(fs9.EAUTH, "%s", pe.Message)
		case platform.CodeForbidden:
			return wsserver.Identity{}, fs9.Errorf(fs9.EACCES, "%s", pe.Message)
		case platform.CodeUnavailable:
			return wsserver.Identity{}, &fs9.Error{Code: fs9.EAGAIN, Message: pe.Message, Err: err}
		}
		return wsserver.Identity{}, err
	}
	// The backend leases the instance again for as long as the
	// connection lives; the login's lease only covered the check.
	sess.Lease.Release()
	return wsserver.Identity{Database: sess.DatabaseID, Role: sess.Role}, nil
}

// fs9Backend opens databases for fs9 connections: a lease (which wakes a
// stopped instance and keeps it from idling) held until the connection
// closes, and the instance's pool of the connection's role.
type fs9Backend struct{ conn placement.Connector }

func (b fs9Backend) Open(ctx context.Context, id wsserver.Identity) (wsserver.Session, error) {
	lease, err := b.conn.Acquire(ctx, id.Database)
	if err != nil {
		return nil, fmt.Errorf("acquire database %s: %w", id.Database, err)
	}
	pool, err := lease.Pool(id.Role)
	if err != nil {
		lease.Release()
		return nil, fmt.Errorf("open pool of %s as %s: %w", id.Database, strconv.Quote(id.Role), err)
	}
	return fs9Session{lease: lease, pool: pool}, nil
}

type fs9Session struct {
	lease placement.Lease
	pool  *pgxpool.Pool
}

func (s fs9Session) Pool() *pgxpool.Pool { return s.pool }
func (s fs9Session) Release()            { s.lease.Release() }
