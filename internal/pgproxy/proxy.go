package pgproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgproxy/pooler"
	"github.com/db9/db9/internal/pgproxy/wire"
)

// Config configures a Proxy.
type Config struct {
	Addr string      // listen address, e.g. 127.0.0.1:5433
	TLS  *tls.Config // nil: SSLRequest is declined
	Auth wire.Authenticator
	// PublicHost is the front door's host name in connection strings: a
	// TLS server name "<database>.<PublicHost>" names the database (no
	// such routing when it is empty or an IP address).
	PublicHost string
	// MaxConnsPerDB bounds the backend sessions of one database: client
	// sessions of the session endpoint plus backends of the pooled one
	// (default 97, what PostgreSQL's max_connections of 100 leaves after
	// its 3 reserved slots; instances are started with room for it plus
	// the platform's own sessions).
	MaxConnsPerDB int
	// StartupTimeout bounds everything before the relay: TLS, startup,
	// password, wake, backend startup (default 30s).
	StartupTimeout time.Duration
	// RelayLoops is the number of event loops relaying plaintext sessions
	// (default one per 4 of GOMAXPROCS, at least one: a loop of its own
	// per core relays less, each loop waking for fewer events); negative:
	// none, every session relays with two goroutines of its own, as TLS
	// sessions always do.
	RelayLoops int
	// PoolAddr is the pooled endpoint's listen address (transaction
	// pooling, docs/POOLER.md); empty: none. Placement must be set with it.
	PoolAddr string
	// Placement wakes databases for the pooled endpoint's backends.
	Placement pooler.Connector
	// PoolSize bounds the backends of one pool: one database, role and
	// set of startup parameters (default 10).
	PoolSize int
	// PoolIdleTimeout closes a pooled backend unused for this long
	// (default 60s), so an instance whose clients are idle can stop.
	PoolIdleTimeout time.Duration
	Logger          *slog.Logger
	// Events are told of sessions and their bytes (metrics); may be nil.
	Events Events
}

// Events receives the front door's session events, for metrics. The
// methods are called on the session's goroutine and must be quick.
type Events interface {
	// SessionStarted: a client session of database db began relaying.
	SessionStarted(db string)
	// SessionEnded: it ended; fromClient and fromBackend are the bytes
	// relayed each way after startup (counted at the end of a session).
	SessionEnded(db string, fromClient, fromBackend int64)
}

// Proxy is the PostgreSQL front door.
type Proxy struct {
	cfg     Config
	log     *slog.Logger
	ln      net.Listener
	poolLn  net.Listener // nil: no pooled endpoint
	pool    *pooler.Pooler
	gate    *wire.Gate
	cancels *wire.CancelRegistry
	loops   *eventLoops // nil: goroutine relay only
	noLoops atomic.Bool // setLoopRelay(false)

	// stop ends at Close: logins in flight (waking an instance) end with it.
	stop   context.Context
	cancel context.CancelFunc
	conns  *wire.Registry
	wg     sync.WaitGroup
}

// New returns a Proxy; it does no I/O until Open.
func New(cfg Config) *Proxy {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConnsPerDB <= 0 {
		cfg.MaxConnsPerDB = 97
	}
	if cfg.StartupTimeout <= 0 {
		cfg.StartupTimeout = 30 * time.Second
	}
	if cfg.RelayLoops == 0 {
		cfg.RelayLoops = max(1, runtime.GOMAXPROCS(0)/4)
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 10
	}
	if cfg.PoolIdleTimeout <= 0 {
		cfg.PoolIdleTimeout = time.Minute
	}
	stop, cancel := context.WithCancel(context.Background())
	p := &Proxy{cfg: cfg, log: cfg.Logger.With(logkey.Component, "pgproxy"), cancels: wire.NewCancelRegistry(),
		stop: stop, cancel: cancel, conns: wire.NewRegistry(cfg.MaxConnsPerDB)}
	p.gate = &wire.Gate{Auth: cfg.Auth, PublicHost: cfg.PublicHost, Log: p.log}
	p.pool = pooler.New(pooler.Config{Placement: cfg.Placement, PoolSize: cfg.PoolSize, PoolIdleTimeout: cfg.PoolIdleTimeout,
		StartupTimeout: cfg.StartupTimeout, MaxConnsPerDB: cfg.MaxConnsPerDB,
		Conns: p.conns, Cancels: p.cancels, Group: &p.wg, Stop: stop, Logger: p.log})
	return p
}

// setLoopRelay chooses how sessions started from now on relay: on event
// loops (the default, when Config.RelayLoops allows) or with two
// goroutines each, so tests run both against the same proxy.
func (p *Proxy) setLoopRelay(on bool) { p.noLoops.Store(!on) }

// Open listens on the configured address and starts accepting clients.
func (p *Proxy) Open(ctx context.Context) error {
	if p.cfg.RelayLoops > 0 {
		loops, err := newEventLoops(p.cfg.RelayLoops)
		if err != nil {
			// The goroutine relay serves every session then.
			p.log.Warn("relay event loops unavailable", logkey.Err, err)
		}
		p.loops = loops
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		if p.loops != nil {
			p.loops.close()
			p.loops = nil
		}
		return fmt.Errorf("listen on --pg-addr %s: %w", p.cfg.Addr, err)
	}
	if p.cfg.PoolAddr != "" {
		var perr error
		if p.cfg.Placement == nil {
			perr = errors.New("open pooled endpoint: Config.Placement is not set")
		} else if p.poolLn, perr = lc.Listen(ctx, "tcp", p.cfg.PoolAddr); perr != nil {
			perr = fmt.Errorf("listen on --pg-pool-addr %s: %w", p.cfg.PoolAddr, perr)
		}
		if perr != nil {
			ln.Close()
			p.poolLn = nil
			if p.loops != nil {
				p.loops.close()
				p.loops = nil
			}
			return perr
		}
		p.ln = ln
		p.wg.Add(2)
		go p.accept(p.poolLn, true)
		go func() {
			defer p.wg.Done()
			p.pool.Reap()
		}()
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln, false)
	return nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// PoolAddr is the address of the pooled endpoint, "" when there is none.
func (p *Proxy) PoolAddr() string {
	if p.poolLn == nil {
		return ""
	}
	return p.poolLn.Addr().String()
}

// Close stops accepting on both endpoints, ends every session and pooled
// backend and waits for their goroutines and the relay loops. It reports
// listeners that failed to close. It is idempotent. Sessions end at once,
// so ctx does not bound the wait.
func (p *Proxy) Close(ctx context.Context) error {
	if !p.conns.CloseAll(p.cancel) {
		return nil
	}
	var errs []error
	if p.ln != nil {
		if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close session listener: %w", err))
		}
	}
	if p.poolLn != nil {
		if err := p.poolLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close pooled listener: %w", err))
		}
	}
	p.pool.Stop()
	p.wg.Wait()
	p.pool.CloseIdle()
	if p.loops != nil {
		p.loops.close()
	}
	return errors.Join(errs...)
}

func (p *Proxy) accept(ln net.Listener, pooled bool) {
	defer p.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.conns.IsClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept", logkey.Err, err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !p.conns.Track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c, "", pooled)
	}
}

// Sessions returns the number of open client sessions of a database.
func (p *Proxy) Sessions(id string) int { return p.conns.Sessions(id) }

// serve runs one client connection; hostName is the host the client
// addressed outside the protocol (ServeConn), "" for the listeners'.
func (p *Proxy) serve(raw net.Conn, hostName string, pooled bool) {
	defer p.wg.Done()
	defer p.conns.Untrack(raw)
	defer raw.Close()
	start := time.Now()
	_ = raw.SetDeadline(start.Add(p.cfg.StartupTimeout))
	conn, msg, err := p.negotiate(raw)
	if err != nil {
		wire.Fail(p.log, conn, err, "startup")
		return
	}
	switch m := msg.(type) {
	case *pgproto3.CancelRequest:
		p.cancels.Forward(m)
		return
	case *pgproto3.StartupMessage:
		if !pooled {
			p.session(conn, m, start, hostName)
		} else if l := p.login(conn, m, start, hostName); l != nil {
			p.pool.Serve(conn, l, start)
		}
	}
}

// login runs wire.Gate.Login within the startup deadline.
func (p *Proxy) login(conn net.Conn, m *pgproto3.StartupMessage, start time.Time, hostName string) *wire.Login {
	ctx, cancel := context.WithDeadline(p.stop, start.Add(p.cfg.StartupTimeout))
	defer cancel()
	return p.gate.Login(ctx, conn, m, hostName)
}

// negotiate reads startup packets until a StartupMessage or CancelRequest,
// answering SSLRequest (TLS when configured) and GSSENCRequest ('N') on
// the way. It returns the connection to use from then on (TLS or not).
func (p *Proxy) negotiate(conn net.Conn) (net.Conn, pgproto3.FrontendMessage, error) {
	tlsDone, gssDone := false, false
	for {
		msg, err := wire.ReadStartupPacket(conn)
		if err != nil {
			return conn, nil, err
		}
		switch msg.(type) {
		case *pgproto3.SSLRequest:
			if tlsDone {
				return conn, nil, wire.ProtoErr("SSLRequest after TLS was established")
			}
			if p.cfg.TLS == nil {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return conn, nil, err
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return conn, nil, err
			}
			tc := tls.Server(conn, p.cfg.TLS)
			if err := tc.Handshake(); err != nil {
				return tc, nil, fmt.Errorf("tls handshake: %w", err)
			}
			conn, tlsDone = tc, true
		case *pgproto3.GSSEncRequest:
			if gssDone || tlsDone {
				return conn, nil, wire.ProtoErr("GSSENCRequest after encryption was negotiated")
			}
			gssDone = true
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return conn, nil, err
			}
		default:
			return conn, msg, nil
		}
	}
}
