package pgproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
)

// Authenticator checks a login and returns the database's instance leased.
// *control.WireAccess implements it.
type Authenticator interface {
	Login(ctx context.Context, dbRef, role, password string) (*control.PGSession, error)
}

// Config configures a Proxy.
type Config struct {
	Addr string      // listen address, e.g. 127.0.0.1:5433
	TLS  *tls.Config // nil: SSLRequest is declined
	Auth Authenticator
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
	Placement Connector
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
	pool    *pooler
	cancels *cancelRegistry
	loops   *eventLoops // nil: goroutine relay only
	noLoops atomic.Bool // setLoopRelay(false)

	// stop ends at Close: logins in flight (waking an instance) end with it.
	stop   context.Context
	cancel context.CancelFunc
	conns  *registry
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
	p := &Proxy{cfg: cfg, log: cfg.Logger.With(logkey.Component, "pgproxy"), cancels: newCancelRegistry(),
		stop: stop, cancel: cancel, conns: newRegistry(cfg.MaxConnsPerDB)}
	p.pool = newPooler(p)
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
		go p.pool.reap()
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
	if !p.conns.close(p.cancel) {
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
	close(p.pool.quit)
	p.wg.Wait()
	p.pool.closeIdle()
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
			if p.conns.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept", logkey.Err, err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !p.conns.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c, "", pooled)
	}
}

// Sessions returns the number of open client sessions of a database.
func (p *Proxy) Sessions(id string) int { return p.conns.sessions(id) }

// serve runs one client connection; hostName is the host the client
// addressed outside the protocol (ServeConn), "" for the listeners'.
func (p *Proxy) serve(raw net.Conn, hostName string, pooled bool) {
	defer p.wg.Done()
	defer p.conns.untrack(raw)
	defer raw.Close()
	start := time.Now()
	_ = raw.SetDeadline(start.Add(p.cfg.StartupTimeout))
	conn, msg, err := p.negotiate(raw)
	if err != nil {
		p.fail(conn, err, "startup")
		return
	}
	switch m := msg.(type) {
	case *pgproto3.CancelRequest:
		p.cancels.forward(m)
		return
	case *pgproto3.StartupMessage:
		if pooled {
			p.pooledSession(conn, m, start, hostName)
		} else {
			p.session(conn, m, start, hostName)
		}
	}
}

// fail reports err to the client when it is one the client should see
// (not a read error on a vanished connection) and logs it.
func (p *Proxy) fail(conn net.Conn, err error, stage string) {
	var we *wireError
	var pe *platform.Error
	switch {
	case errors.As(err, &we):
		writeError(conn, err)
		p.log.Debug("refused", logkey.Stage, stage, logkey.SQLState, we.code, logkey.Err, we.msg)
	case errors.As(err, &pe):
		writeError(conn, err)
		if pe.Code == platform.CodeInternal || pe.Code == platform.CodeUnavailable {
			p.log.Warn("refused", logkey.Stage, stage, logkey.Err, err)
		} else {
			p.log.Debug("refused", logkey.Stage, stage, logkey.Err, err)
		}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		p.log.Debug("client went away", logkey.Stage, stage)
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			writeError(conn, &wireError{code: stateCannotConnectNow, msg: "timeout during connection startup"})
		} else if _, isTLS := conn.(*tls.Conn); !isTLS {
			writeError(conn, platform.Wrap(platform.CodeInternal, err, "internal error"))
		}
		p.log.Debug("startup failed", logkey.Stage, stage, logkey.Err, err)
	}
}

// negotiate reads startup packets until a StartupMessage or CancelRequest,
// answering SSLRequest (TLS when configured) and GSSENCRequest ('N') on
// the way. It returns the connection to use from then on (TLS or not).
func (p *Proxy) negotiate(conn net.Conn) (net.Conn, pgproto3.FrontendMessage, error) {
	tlsDone, gssDone := false, false
	for {
		msg, err := readStartupPacket(conn)
		if err != nil {
			return conn, nil, err
		}
		switch msg.(type) {
		case *pgproto3.SSLRequest:
			if tlsDone {
				return conn, nil, protoErr("SSLRequest after TLS was established")
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
				return conn, nil, protoErr("GSSENCRequest after encryption was negotiated")
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
