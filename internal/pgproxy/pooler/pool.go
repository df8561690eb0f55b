package pooler

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgproxy/pooler/park"
	"github.com/db9/db9/internal/pgproxy/wire"
	"github.com/db9/db9/internal/placement"
)

// Connector leases a database's instance, waking it when it is stopped.
// placement.Connector implements it.
type Connector interface {
	Acquire(ctx context.Context, id string) (placement.Lease, error)
}

// poolKey names a pool: backends of one database, logged in as one role
// with the same startup parameters (options, application_name, token
// claims...), so any of them can serve any client of the pool.
type poolKey struct {
	db, role, params string
}

func newPoolKey(db, role string, params map[string]string) poolKey {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(params[k])
		b.WriteByte(0)
	}
	return poolKey{db: db, role: role, params: b.String()}
}

// Config configures a Pooler; the proxy's Config documents the settings
// of the same names.
type Config struct {
	Placement       Connector
	PoolSize        int
	PoolIdleTimeout time.Duration
	StartupTimeout  time.Duration
	MaxConnsPerDB   int
	// Conns is the proxy's registry: the pooler's backends count against
	// the database's limit together with the session endpoint's sessions,
	// and the proxy's Close ends them.
	Conns *wire.Registry
	// Cancels is the proxy's cancel registry: a CancelRequest may come in
	// on either endpoint.
	Cancels *wire.CancelRegistry
	// Group is the proxy's wait group: Close waits for the pooler's
	// goroutines (relays, resumed parked clients) with its own.
	Group *sync.WaitGroup
	// Stop ends at the proxy's Close: a client waiting for a backend
	// stops waiting.
	Stop   context.Context
	Logger *slog.Logger
}

// Pooler holds the backend pools of the pooled endpoint and serves its
// clients.
type Pooler struct {
	cfg     Config
	log     *slog.Logger
	conns   *wire.Registry
	cancels *wire.CancelRegistry
	wg      *sync.WaitGroup
	stop    context.Context

	mu    sync.Mutex
	pools map[poolKey]*pool
	byDB  map[string]map[*pool]struct{}
	quit  chan struct{}
	// pk parks idle clients (parking.go), started on first use; none after
	// pkStopped. pkMu guards both.
	pkMu      sync.Mutex
	pk        *park.Parker
	pkStopped bool
	trim      *park.Trimmer
}

// pool is the backends of one poolKey: at most Config.PoolSize, idle
// ones last-in first-out (the warmest caches first), closed after
// Config.PoolIdleTimeout unused. It holds a lease on the instance while
// it has a backend, and none otherwise, so an instance whose clients are
// all idle can still be stopped; the next transaction wakes it.
type pool struct {
	pr      *Pooler
	key     poolKey
	startup map[string]string // the backends' startup parameters

	mu      sync.Mutex
	n       int // backends open or being opened
	idle    []*backend
	waiters []waiter
	lease   placement.Lease
	status  []byte // ParameterStatus messages of a backend's startup, for clients
	pinned  int
	clients int
}

// waiter is a client waiting for a backend of a full pool: a goroutine
// (ch; a nil sent: a backend may be opened), or a parked client whose
// query waits on the parker's loop (lc; package park).
type waiter struct {
	ch chan *backend
	lc *pooledClient
}

// give hands b (nil: a backend may be opened) to w. pl.mu is held.
func (pl *pool) give(w waiter, b *backend) {
	if w.ch != nil {
		w.ch <- b
		return
	}
	// A typed nil would be no nil Backend.
	var pb park.Backend
	if b != nil {
		pb = b
	}
	w.lc.park.pk.Handoff(&w.lc.park.spot, pb)
}

// backend is one PostgreSQL session of a pool.
type backend struct {
	pool      *pool
	conn      net.Conn
	lc        park.Conn // conn as the parker's loop uses it (Loop)
	r         *bufio.Reader
	ep        placement.Endpoint
	pid       uint32
	secret    []byte
	stmts     map[string]*stmtDef // named statements prepared on it (as far as known)
	unnamed   *stmtDef
	idleSince time.Time
	// dead are statements of clients that dropped them, to close before
	// the next client's message (stmtgc.go); guarded by pool.mu, ndead
	// is their number for a look without the lock.
	dead  []deadStmt
	ndead atomic.Int32
	gone  atomic.Bool // closed
}

// New returns a Pooler; clients come to it through Serve.
func New(cfg Config) *Pooler {
	quit := make(chan struct{})
	return &Pooler{cfg: cfg, log: cfg.Logger, conns: cfg.Conns, cancels: cfg.Cancels, wg: cfg.Group, stop: cfg.Stop,
		pools: map[poolKey]*pool{}, byDB: map[string]map[*pool]struct{}{}, quit: quit, trim: park.NewTrimmer(quit)}
}

// join returns the pool of key (made when missing) with one more client.
func (pr *Pooler) join(key poolKey, startup map[string]string) *pool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pl := pr.pools[key]
	if pl == nil {
		pl = &pool{pr: pr, key: key, startup: startup}
		pr.pools[key] = pl
		if pr.byDB[key.db] == nil {
			pr.byDB[key.db] = map[*pool]struct{}{}
		}
		pr.byDB[key.db][pl] = struct{}{}
	}
	pl.mu.Lock()
	pl.clients++
	pl.mu.Unlock()
	return pl
}

// leave ends a client's use of pl; a pool without clients and backends
// is forgotten.
func (pr *Pooler) leave(pl *pool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pl.mu.Lock()
	pl.clients--
	pr.forgetLocked(pl)
	pl.mu.Unlock()
}

// forgetLocked drops pl from the maps when nothing uses it; pr.mu and
// pl.mu are held.
func (pr *Pooler) forgetLocked(pl *pool) {
	if pl.clients > 0 || pl.n > 0 || len(pl.waiters) > 0 || pr.pools[pl.key] != pl {
		return
	}
	delete(pr.pools, pl.key)
	if m := pr.byDB[pl.key.db]; m != nil {
		delete(m, pl)
		if len(m) == 0 {
			delete(pr.byDB, pl.key.db)
		}
	}
}

// evictIdle closes one idle backend of another pool of the same database,
// to free a slot of the database's limit for pl. It reports whether it
// did.
func (pr *Pooler) evictIdle(pl *pool) bool {
	pr.mu.Lock()
	others := make([]*pool, 0, len(pr.byDB[pl.key.db]))
	for o := range pr.byDB[pl.key.db] {
		if o != pl {
			others = append(others, o)
		}
	}
	pr.mu.Unlock()
	for _, o := range others {
		o.mu.Lock()
		if len(o.idle) == 0 {
			o.mu.Unlock()
			continue
		}
		b := o.idle[0] // the one idle longest
		o.idle = o.idle[1:]
		o.closeLocked(b)
		o.mu.Unlock()
		return true
	}
	return false
}

// Reap closes backends idle for longer than the idle timeout, every
// quarter of it, until Stop.
func (pr *Pooler) Reap() {
	defer pr.stopParker()
	timeout := pr.cfg.PoolIdleTimeout
	t := time.NewTicker(max(timeout/4, 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-pr.quit:
			return
		case <-t.C:
		}
		pr.mu.Lock()
		all := make([]*pool, 0, len(pr.pools))
		for _, pl := range pr.pools {
			all = append(all, pl)
		}
		pr.mu.Unlock()
		cutoff := time.Now().Add(-timeout)
		for _, pl := range all {
			pl.mu.Lock()
			i := 0
			for i < len(pl.idle) && pl.idle[i].idleSince.Before(cutoff) {
				pl.closeLocked(pl.idle[i])
				i++
			}
			pl.idle = pl.idle[i:]
			pl.mu.Unlock()
			pr.mu.Lock()
			pl.mu.Lock()
			pr.forgetLocked(pl)
			pl.mu.Unlock()
			pr.mu.Unlock()
		}
	}
}

// Stop ends Reap.
func (pr *Pooler) Stop() { close(pr.quit) }

// CloseIdle closes every idle backend (the proxy has ended every client,
// so no backend is in use any more, and stopped the reaper).
func (pr *Pooler) CloseIdle() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, pl := range pr.pools {
		pl.mu.Lock()
		for _, b := range pl.idle {
			pl.closeLocked(b)
		}
		pl.idle = nil
		pl.mu.Unlock()
	}
}

// errPoolBusy is a refusal to a client when the pool is at its bound and
// no backend came free in time.
var errPoolBusy = &wire.Error{Code: wire.StateTooManyConns, Msg: "no pooled connection to the database came free in time (every backend is busy); try again"}

// get returns a backend of the pool: an idle one, a new one (waking the
// database when needed), or one another client releases.
func (pl *pool) get(ctx context.Context) (*backend, error) {
	p := pl.pr
	for {
		pl.mu.Lock()
		if k := len(pl.idle); k > 0 {
			b := pl.idle[k-1]
			pl.idle = pl.idle[:k-1]
			if time.Since(b.idleSince) > time.Second && !alive(b.conn) {
				// Ended while idle (instance restarted, database deleted).
				pl.closeLocked(b)
				pl.mu.Unlock()
				continue
			}
			pl.mu.Unlock()
			return b, nil
		}
		if pl.n < p.cfg.PoolSize {
			if p.conns.TakeSlot(pl.key.db) {
				pl.n++
				pl.mu.Unlock()
				b, err := pl.open(ctx)
				if err != nil {
					pl.mu.Lock()
					pl.dropLocked()
					pl.mu.Unlock()
					return nil, err
				}
				return b, nil
			}
			full := pl.n == 0
			pl.mu.Unlock()
			if pl.pr.evictIdle(pl) {
				continue
			}
			if full {
				// Every slot of the database is a session's: wait a
				// little for one to end, as for a busy backend.
				select {
				case <-ctx.Done():
					return nil, &wire.Error{Code: wire.StateTooManyConns, Msg: fmt.Sprintf("too many connections to database %s (limit %d)", pl.key.db, p.cfg.MaxConnsPerDB)}
				case <-time.After(20 * time.Millisecond):
				}
				continue
			}
			pl.mu.Lock()
		}
		ch := make(chan *backend, 1)
		pl.waiters = append(pl.waiters, waiter{ch: ch})
		pl.mu.Unlock()
		select {
		case b := <-ch:
			if b != nil {
				return b, nil
			}
		case <-ctx.Done():
			pl.mu.Lock()
			for i, w := range pl.waiters {
				if w.ch == ch {
					pl.waiters = append(pl.waiters[:i], pl.waiters[i+1:]...)
					break
				}
			}
			pl.mu.Unlock()
			select {
			case b := <-ch: // handed over just now
				if b != nil {
					pl.put(b, true)
				} else {
					pl.mu.Lock()
					pl.wakeLocked()
					pl.mu.Unlock()
				}
			default:
			}
			return nil, errPoolBusy
		}
	}
}

// getOrQueue is get for a parked client's query on the parker's loop,
// which must not block: an idle backend, or none and queued (the backend
// a client gives back comes through handoff, in turn with the goroutines
// waiting), or none and not queued when the pool may open another (the
// client's goroutine does that: it may take a while, or wake the
// database).
func (pl *pool) getOrQueue(c *pooledClient) (b *backend, queued bool) {
	for {
		pl.mu.Lock()
		if k := len(pl.idle); k > 0 {
			b := pl.idle[k-1]
			pl.idle = pl.idle[:k-1]
			if (time.Since(b.idleSince) > time.Second && !alive(b.conn)) || b.r.Buffered() > 0 {
				pl.closeLocked(b)
				pl.mu.Unlock()
				continue
			}
			pl.mu.Unlock()
			return b, false
		}
		if pl.n < pl.pr.cfg.PoolSize {
			pl.mu.Unlock()
			return nil, false
		}
		pl.waiters = append(pl.waiters, waiter{lc: c})
		pl.mu.Unlock()
		return nil, true
	}
}

// dequeue takes a parked client out of the waiters; false when it is not
// there (a backend, or nil, was handed to it).
func (pl *pool) dequeue(c *pooledClient) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for i, w := range pl.waiters {
		if w.lc == c {
			pl.waiters = append(pl.waiters[:i], pl.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// put gives a backend back: to a waiting client, to the idle list, or
// closed when it may not serve another client (reusable false).
func (pl *pool) put(b *backend, reusable bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if !reusable {
		pl.closeLocked(b)
		return
	}
	if len(pl.waiters) > 0 {
		w := pl.waiters[0]
		pl.waiters = pl.waiters[1:]
		pl.give(w, b)
		return
	}
	b.idleSince = time.Now()
	pl.idle = append(pl.idle, b)
}

// closeLocked closes a backend that is not in the idle list.
func (pl *pool) closeLocked(b *backend) {
	// Terminate, so the backend ends at once rather than on EOF.
	_ = b.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = b.conn.Write([]byte{'X', 0, 0, 0, 4})
	b.conn.Close()
	b.gone.Store(true)
	pl.pr.conns.Untrack(b.conn)
	pl.dropLocked()
}

// dropLocked accounts for a backend gone (or never opened): its slot of
// the database's limit, the lease when it was the last, a waiter that may
// open one now.
func (pl *pool) dropLocked() {
	pl.n--
	pl.pr.conns.FreeSlot(pl.key.db)
	if pl.n == 0 && pl.lease != nil {
		pl.lease.Release()
		pl.lease = nil
	}
	pl.wakeLocked()
}

func (pl *pool) wakeLocked() {
	if len(pl.waiters) > 0 {
		w := pl.waiters[0]
		pl.waiters = pl.waiters[1:]
		pl.give(w, nil)
	}
}

// open opens a new backend (counted in n by the caller), leasing the
// instance first when the pool holds no lease.
func (pl *pool) open(ctx context.Context) (*backend, error) {
	p := pl.pr
	pl.mu.Lock()
	lease := pl.lease
	pl.mu.Unlock()
	if lease == nil {
		l, err := p.cfg.Placement.Acquire(ctx, pl.key.db)
		if errors.Is(err, placement.ErrNotFound) {
			return nil, &wire.Error{Code: wire.StateUnknownDatabase, Msg: fmt.Sprintf("database %q does not exist", pl.key.db)}
		}
		if err != nil {
			p.log.Warn("wake database for the pool", logkey.DB, pl.key.db, logkey.Err, err)
			return nil, &wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database could not be started; try again"}
		}
		pl.mu.Lock()
		if pl.lease == nil {
			pl.lease = l
		} else {
			l.Release()
		}
		lease = pl.lease
		pl.mu.Unlock()
	}
	ep := lease.Endpoint()
	conn, err := ep.Dial(ctx)
	if err != nil {
		p.log.Warn("dial backend", logkey.DB, pl.key.db, logkey.Err, err)
		return nil, &wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database is not accepting connections; try again"}
	}
	if !p.conns.Track(conn) {
		conn.Close()
		return nil, &wire.Error{Code: wire.StateCannotConnectNow, Msg: "the server is shutting down"}
	}
	fail := func(err error) (*backend, error) {
		conn.Close()
		p.conns.Untrack(conn)
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: pl.startup}).Encode(nil)
	if _, err := conn.Write(b); err != nil {
		return fail(&wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database is not accepting connections; try again"})
	}
	r := bufio.NewReaderSize(conn, 16<<10)
	a, err := wire.ReadStartupAnswer(r)
	if err != nil {
		p.log.Warn("backend startup", logkey.DB, pl.key.db, logkey.Err, err)
		return fail(&wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database closed the connection during startup; try again"})
	}
	if a.Refusal != nil {
		return fail(backendRefusal(a.Refusal))
	}
	_ = conn.SetDeadline(time.Time{})
	be := &backend{pool: pl, conn: conn, r: r,
		ep: ep, stmts: map[string]*stmtDef{}}
	be.lc = park.NewConn(conn)
	if a.Key != nil {
		be.pid, be.secret = a.Key.ProcessID, a.Key.SecretKey
	}
	pl.mu.Lock()
	if pl.status == nil {
		pl.status = parameterStatuses(a.Msgs)
	}
	pl.mu.Unlock()
	return be, nil
}

// startupStatus returns the ParameterStatus messages a client of the pool
// gets at startup (those of a backend's startup), opening a backend when
// the pool never had one.
func (pl *pool) startupStatus(ctx context.Context) ([]byte, error) {
	pl.mu.Lock()
	st := pl.status
	pl.mu.Unlock()
	if st != nil {
		return st, nil
	}
	b, err := pl.get(ctx)
	if err != nil {
		return nil, err
	}
	pl.put(b, true)
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.status, nil
}

// parameterStatuses picks the ParameterStatus messages out of a startup
// answer.
func parameterStatuses(msgs []byte) []byte {
	out := []byte{}
	for len(msgs) >= 5 {
		n := 1 + int(uint32(msgs[1])<<24|uint32(msgs[2])<<16|uint32(msgs[3])<<8|uint32(msgs[4]))
		if n > len(msgs) {
			break
		}
		if msgs[0] == 'S' {
			out = append(out, msgs[:n]...)
		}
		msgs = msgs[n:]
	}
	return out
}

// refusalError is a backend's ErrorResponse at startup, relayed as it is.
type refusalError struct{ raw []byte }

func (e *refusalError) Error() string { return "backend refused the session" }

func backendRefusal(raw []byte) error { return &refusalError{raw: raw} }

// alive reports whether an idle connection is still open: no data and no
// EOF waiting (an idle backend sends nothing, except a FATAL before it
// ends).
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	var buf [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if n > 0 || err == nil || (err != syscall.EAGAIN && err != syscall.EWOULDBLOCK) {
			ok = false
		}
		return true
	})
	return ok
}
