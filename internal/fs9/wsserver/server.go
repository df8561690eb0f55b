package wsserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/logkey"
)

// Identity is who a connection acts as: a database and a role in it.
type Identity struct {
	Database string // database id
	Role     string
}

// Authenticator checks the credentials of an auth frame. username is
// "<database id or name>.<role>"; password is the role's password, a
// connect token (JWT) or a connect key (db9ck_). A refusal is an
// *fs9.Error with code EAUTH (bad credentials, unknown database, another
// database's token), EACCES or EAGAIN (could not check now); any other
// error is logged and reported as EAUTH.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// Session is a database opened for one WebSocket connection: a pool of
// sessions as the connection's role, with the instance kept awake until
// Release (called once, when the connection closes).
type Session interface {
	Pool() *pgxpool.Pool
	Release()
}

// Backend opens databases for connections, starting the instance when it
// is stopped.
type Backend interface {
	Open(ctx context.Context, id Identity) (Session, error)
}

// Roles with file access (FS9.md): admin reads and writes, the read-only
// role reads (PostgreSQL refuses its writes: EACCES).
var fileRoles = map[string]bool{"admin": true, "_db9_sys_readonly": true}

// Config configures a Server; zero values take FS9.md's limits.
type Config struct {
	Auth    Authenticator
	Backend Backend
	Logger  *slog.Logger

	AuthTimeout       time.Duration // first frame (10 s)
	IdleTimeout       time.Duration // no frame from the client (300 s)
	HeartbeatInterval time.Duration // watch heartbeats (30 s)
	MaxConnsPerDB     int           // 50
	MaxInFlight       int           // requests per connection (10)
	MaxFrame          int           // JSON frame bytes (2 MiB)
}

func (c *Config) defaults() {
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 300 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 30 * time.Second
	}
	if c.MaxConnsPerDB <= 0 {
		c.MaxConnsPerDB = 50
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 10
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 2 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is the fs9 WebSocket endpoint. New does no I/O; Close ends every
// connection and waits for them.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[string]int // open connections per database
}

// New returns a server; cfg.Auth and cfg.Backend are required.
func New(cfg Config) *Server {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, log: cfg.Logger.With(logkey.Component, "fs9"), ctx: ctx, cancel: cancel, conns: map[string]int{}}
}

// Close ends every connection and waits for their goroutines, or ctx.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeHTTP upgrades any request to the fs9 protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ctx.Err() != nil {
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	}
	// Origins are not checked: every connection authenticates with
	// credentials in its first frame, never with cookies.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the client
	}
	ws.SetReadLimit(-1) // text frames are limited by hand (EFBIG), binary frames are streamed
	s.wg.Add(1)
	defer s.wg.Done()
	c := newConn(s, ws)
	c.serve()
}

// acquireSlot counts a connection of db, false past the limit.
func (s *Server) acquireSlot(db string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[db] >= s.cfg.MaxConnsPerDB {
		return false
	}
	s.conns[db]++
	return true
}

func (s *Server) releaseSlot(db string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[db]--; s.conns[db] <= 0 {
		delete(s.conns, db)
	}
}

// errResponse builds the error answer for err; causes are logged, never sent.
func (s *Server) errResponse(id []byte, err error, attrs ...any) response {
	var e *fs9.Error
	if !errors.As(err, &e) {
		s.log.Error("fs9 request failed", append(attrs, logkey.Err, err)...)
		return response{ID: id, Error: &errBody{Code: fs9.EIO, Message: "internal error"}}
	}
	if e.Err != nil {
		s.log.Warn("fs9 request failed", append(attrs, logkey.Code, e.Code, logkey.Err, e.Err)...)
	}
	return response{ID: id, Error: &errBody{Code: e.Code, Message: e.Message}}
}
