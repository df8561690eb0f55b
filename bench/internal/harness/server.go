package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/server"
)

// ColdIdle is the --idle-timeout of servers whose databases are measured
// cold: short, so the benchmark waits little for each stop.
const ColdIdle = 200 * time.Millisecond

// Server is an in-process db9 server and its data directory's
// layout, which the benchmarks read to reach an instance directly (the
// peer of the front doors) and to see whether its postmaster runs.
type Server struct {
	*server.Server
	// Layout is the layout of the server's data directory.
	Layout layout.Layout
	addrs  *listenAddrs
}

// HTTPAddr is the address the server's HTTP API listens on.
func (s *Server) HTTPAddr() string { return s.addrs.get(logkey.HTTPAddr) }

// PGAddr is the address of the server's PostgreSQL front door.
func (s *Server) PGAddr() string { return s.addrs.get(logkey.PGAddr) }

// FS9Addr is the address of the server's fs9 listener.
func (s *Server) FS9Addr() string { return s.addrs.get(logkey.FS9Addr) }

// PGPoolAddr is the address of the server's pooled endpoint.
func (s *Server) PGPoolAddr() string { return s.addrs.get(logkey.PGPoolAddr) }

// StartServer runs an in-process db9 server on dir; set, when not nil,
// changes its configuration.
func StartServer(ctx context.Context, dir string, warmPool, sparePool int, idle time.Duration, set ...func(*config.Server)) (*Server, error) {
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(dir, "db9")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.PGAddr = "127.0.0.1:0"
	cfg.FS9Addr = "127.0.0.1:0"
	cfg.PGPoolAddr = "127.0.0.1:0"
	cfg.IdleTimeout = idle
	cfg.WarmPool = warmPool
	cfg.SparePool = sparePool
	cfg.AnonymousDBLimit = 1 << 30
	for _, f := range set {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if os.Getenv("DB9BENCH_LOG") == "info" { // e.g. the "restored instance" step times
		level = slog.LevelInfo
	}
	addrs := newListenAddrs(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	s := server.New(cfg, slog.New(addrs))
	if err := s.Open(ctx); err != nil {
		return nil, err
	}
	if addrs.get(logkey.HTTPAddr) == "" || addrs.get(logkey.PGAddr) == "" {
		s.Close(ctx)
		return nil, errors.New("the server logged no listen addresses")
	}
	return &Server{Server: s, Layout: layout.Layout{DataDir: cfg.DataDir}, addrs: addrs}, nil
}

// DirectConn is the connection string of user on database id's instance
// socket, bypassing the front doors.
func (s *Server) DirectConn(id, user string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", s.Layout.DB(id).SocketDir, layout.Port, user)
}

// Postmaster is the pid of database id's running postmaster, or 0.
func (s *Server) Postmaster(id string) int {
	data := s.Layout.DB(id).Data
	if !postgres.Alive(data) {
		return 0
	}
	return postgres.PostmasterPid(data)
}

// WaitStopped waits until database id's instance was stopped for
// idleness (the server runs with a short --idle-timeout).
func (s *Server) WaitStopped(id string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for s.Postmaster(id) != 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not stopped for idleness within %s", id, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// ServerWithDB starts an in-process server on a new data directory and
// creates one database in it for an anonymous customer; close undoes both.
func ServerWithDB(e *Env, name string) (srv *Server, api *APIClient, id string, close func(), err error) {
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return nil, nil, "", nil, err
	}
	ctx := context.Background()
	srv, err = StartServer(ctx, dir, e.WarmPool, e.SparePool, 0)
	if err != nil {
		cleanup()
		return nil, nil, "", nil, err
	}
	close = func() { srv.Close(ctx); cleanup() }
	if api, err = NewAPIClient(srv.HTTPAddr()); err == nil {
		id, err = api.Create(name)
	}
	if err != nil {
		close()
		return nil, nil, "", nil, err
	}
	return srv, api, id, close, nil
}

// WaitPools waits until the server's warm pool holds at least warm
// instances and its spare pool spare copies, and both stopped changing
// (the warm pool may have grown past warm after a burst), as on a server
// that has been up a while, so phases start alike. It watches the data
// directory: a warm instance is a directory under dbs/ that is no
// database api made.
func WaitPools(srv *Server, api *APIClient, warm, spare int) {
	count := func() (w, s int) {
		dbs, _ := os.ReadDir(srv.Layout.DBs())
		for _, d := range dbs {
			if !api.madeIt(d.Name()) && srv.Postmaster(d.Name()) != 0 {
				w++
			}
		}
		spares, _ := os.ReadDir(srv.Layout.Spares())
		for _, d := range spares {
			if !strings.HasSuffix(d.Name(), ".tmp") {
				s++
			}
		}
		return w, s
	}
	deadline := time.Now().Add(2 * time.Minute)
	lastW, lastS, since := -1, -1, time.Now()
	for time.Now().Before(deadline) {
		w, s := count()
		if w != lastW || s != lastS {
			lastW, lastS, since = w, s, time.Now()
		}
		if w >= warm && s >= spare && time.Since(since) >= 500*time.Millisecond {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "warning: pools not full after 2 minutes")
}
