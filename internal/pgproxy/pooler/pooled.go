package pooler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgproxy/pooler/sqlscan"
	"github.com/db9/db9/internal/pgproxy/wire"
)

// maxMessageLen bounds a client message on the pooled endpoint
// (PostgreSQL's own limit for most messages is 1 GB).
const maxMessageLen = 1 << 30

// Serve runs a client of the pooled endpoint after its login (the same
// startup and login as a session of the session endpoint): a backend of
// the pool for each transaction. It releases the login's lease.
func (pr *Pooler) Serve(conn net.Conn, l *wire.Login, start time.Time) {
	startup := wire.BackendParams(l.Params, l.Role, l.Sess.Settings)
	pl := pr.join(newPoolKey(l.Sess.DatabaseID, l.Role, startup), startup)
	ctx, cancel := context.WithDeadline(pr.stop, start.Add(pr.cfg.StartupTimeout))
	status, err := pl.startupStatus(ctx)
	cancel()
	// The login's lease woke the database; from now on only the pool's
	// backends hold it.
	l.Sess.Lease.Release()
	if err != nil {
		pr.leave(pl)
		pr.failPooled(conn, err)
		return
	}
	c := &pooledClient{p: pr, conn: conn, br: getReader(conn), pool: pl, method: l.Sess.Method, start: start,
		key: pr.cancels.AddPooled(), stmts: stmtBook{named: map[string]*stmtDef{}}}
	out, _ := (&pgproto3.AuthenticationOk{}).Encode(nil)
	out = append(out, status...)
	out, _ = (&pgproto3.BackendKeyData{ProcessID: c.key.PID, SecretKey: c.key.SecretBytes()}).Encode(out)
	out = append(out, 'Z', 0, 0, 0, 5, 'I')
	if _, err := conn.Write(out); err != nil {
		c.finish()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	l.Log.Debug("pooled session started", logkey.StartupMs, time.Since(start).Milliseconds())
	pr.trim.NoteLogin()
	// Parked at once (parking.go): an idle client costs no goroutine, and the
	// parker's loop runs its simple queries (package park). Else, or when
	// it cannot be parked, run ends the session or parks the client later;
	// either way this goroutine ends with the client's connection its own.
	if _, tcp := conn.(*net.TCPConn); tcp && c.br.Buffered() == 0 && c.parkIdle() {
		return
	}
	c.run()
}

// failPooled reports an error of the pool to the client, FATAL.
func (pr *Pooler) failPooled(conn net.Conn, err error) {
	var re *refusalError
	if errors.As(err, &re) {
		_, _ = conn.Write(re.raw)
		return
	}
	wire.Fail(pr.log, conn, err, "backend")
}

// attachment is a client's hold on a backend: from the first message
// after a ReadyForQuery 'I' to the next one that leaves nothing open.
type attachment struct {
	b        *backend
	inflight int  // Syncs, Queries, FunctionCalls without their ReadyForQuery
	unsynced bool // extended-protocol messages forwarded after the last Sync
	sent     int  // Syncs, Queries, FunctionCalls forwarded
	recv     int  // ReadyForQuery received
	parses   []pending
	closes   []pending
	done     chan struct{} // the relay from the backend ended
	// cw is the relay's writer to the client: the client's, not the
	// backend's, so that the backend goes back to the pool before the
	// last of its answer is written (the client, answered, may at once
	// start another transaction and find it idle).
	cw *bufio.Writer
}

// writers recycles the relays' writers.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

func getWriter(c net.Conn) *bufio.Writer {
	w := writers.Get().(*bufio.Writer)
	w.Reset(c)
	return w
}

// pooledClient is one client of the pooled endpoint.
type pooledClient struct {
	p    *Pooler
	conn net.Conn
	br   *bufio.Reader
	pool *pool
	key  wire.CancelKey
	// method is how the client logged in, for its log lines (logAt): a
	// logger of its own would cost each idle client hundreds of bytes.
	method string

	skipToSync bool    // an error refused an extended-protocol message: the rest up to Sync is dropped
	out        *[]byte // messages for the backend not written yet (from outBufs)

	start time.Time
	park  parkState // client goroutine only, except where parking.go says

	wmu sync.Mutex // orders the relays' writes to the client

	mu     sync.Mutex // guards the fields below (the relay goroutine reads and writes them)
	att    *attachment
	pinned string // the command that pinned the client to its backend
	ended  bool
	stmts  stmtBook
}

// run reads the client's messages and forwards them, each to the
// backend the client holds, getting one first when it holds none, until
// the session ends (finish) or the client, idle, is parked (parking.go).
func (c *pooledClient) run() (parked bool) {
	defer func() {
		if !parked {
			c.finish()
		}
	}()
	var hdr [5]byte
	for {
		idle, err := c.readHeader(hdr[:])
		if idle {
			if c.parkIdle() {
				return true
			}
			continue
		}
		if err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 || n > maxMessageLen {
			wire.WriteError(c.conn, wire.ProtoErr(fmt.Sprintf("invalid message length %d", n)))
			return
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(c.br, body); err != nil {
			return
		}
		typ := hdr[0]
		if typ == 'X' {
			return
		}
		if c.skipToSync {
			if typ == 'S' {
				c.skipToSync = false
				if _, err := c.conn.Write([]byte{'Z', 0, 0, 0, 5, 'I'}); err != nil {
					return
				}
			}
			continue
		}
		if err := c.forward(typ, hdr[:], body); err != nil {
			if !c.refuse(typ, err) {
				return
			}
		}
	}
}

// refuse answers a message the pooler could not forward with an
// ErrorResponse, as PostgreSQL answers a failed command: ReadyForQuery
// after a simple query, the rest of an extended batch dropped up to its
// Sync. It reports whether the session goes on.
func (c *pooledClient) refuse(typ byte, err error) bool {
	var re *refusalError
	if errors.As(err, &re) { // the backend refused the session: FATAL, as it said
		_, _ = c.conn.Write(re.raw)
		return false
	}
	e := wire.ErrorResponse(err)
	fatal := e.Code == wire.StateUnknownDatabase || e.Code == wire.StateInternal || e.Code == wire.StateProtocolViolation
	if !fatal {
		e.Severity, e.SeverityUnlocalized = "ERROR", "ERROR"
	}
	b, _ := e.Encode(nil)
	switch {
	case fatal:
	case typ == 'Q' || typ == 'F':
		b = append(b, 'Z', 0, 0, 0, 5, 'I')
	case typ == 'S':
		b = append(b, 'Z', 0, 0, 0, 5, 'I')
	default:
		c.skipToSync = true
	}
	if _, err := c.conn.Write(b); err != nil {
		return false
	}
	return !fatal
}

// errPinLimit refuses a command that would pin a client to a backend when
// the pool's pins are all taken.
func errPinLimit(what string, limit int) error {
	return &wire.Error{Code: wire.StateFeatureNotSupp,
		Msg:  fmt.Sprintf("%s outside a transaction is not available on the pooled endpoint now: it would keep a backend for this session, and %d sessions already do", what, limit),
		Hint: "use SET LOCAL, pg_advisory_xact_lock and ON COMMIT DROP inside a transaction, or connect to the session endpoint (the port of connection_string) for session state"}
}

// forward sends one client message to the client's backend, with
// whatever it needs there first (docs/POOLER.md).
func (c *pooledClient) forward(typ byte, hdr, body []byte) error {
	if typ == 'd' || typ == 'c' || typ == 'f' {
		// Copy data outside a COPY: PostgreSQL ignores it too.
		c.mu.Lock()
		att := c.att
		c.mu.Unlock()
		if att == nil {
			return nil
		}
		return c.write(att.b, hdr, body, nil)
	}
	var effect sqlscan.Effect
	switch typ {
	case 'Q':
		effect = sqlscan.Scan(cstring(body))
	case 'P':
		_, rest := cut(body)
		effect = sqlscan.Scan(cstring(rest))
	}
	for {
		att, err := c.attach(effect.Session)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.att != att { // given back to the pool in between: get another
			c.mu.Unlock()
			continue
		}
		pre := c.bookkeep(att, typ, body, effect)
		c.mu.Unlock()
		return c.write(att.b, hdr, body, pre)
	}
}

// attach returns the client's attachment, getting a backend from the pool
// when it holds none. pin, when set, pins the client to it.
func (c *pooledClient) attach(pin string) (*attachment, error) {
	c.mu.Lock()
	att := c.att
	if att != nil {
		if pin != "" && c.pinned == "" {
			c.pinned = pin
			c.pool.mu.Lock()
			c.pool.pinned++
			c.pool.mu.Unlock()
		}
		c.mu.Unlock()
		return att, nil
	}
	c.mu.Unlock()
	limit := max(c.p.cfg.PoolSize-2, 0)
	if pin != "" {
		c.pool.mu.Lock()
		full := c.pool.pinned >= limit
		if !full {
			c.pool.pinned++
		}
		c.pool.mu.Unlock()
		if full {
			return nil, errPinLimit(pin, limit)
		}
	}
	ctx, cancel := context.WithTimeout(c.p.stop, c.p.cfg.StartupTimeout)
	b, err := c.pool.get(ctx)
	cancel()
	if err != nil {
		if pin != "" {
			c.pool.mu.Lock()
			c.pool.pinned--
			c.pool.mu.Unlock()
		}
		return nil, err
	}
	att = &attachment{b: b, done: make(chan struct{}), cw: getWriter(c.conn)}
	c.mu.Lock()
	c.att = att
	if pin != "" {
		c.pinned = pin
	}
	c.mu.Unlock()
	c.p.cancels.Set(c.key, wire.CancelTarget{EP: b.ep, PID: b.pid, Secret: b.secret})
	c.p.wg.Add(1)
	go c.relay(att)
	return att, nil
}

// bookkeep records what a message does to the client's and the backend's
// prepared statements and to the attachment, and returns the messages to
// send before it (statements the client prepared on another backend).
// c.mu is held.
func (c *pooledClient) bookkeep(att *attachment, typ byte, body []byte, effect sqlscan.Effect) (pre []byte) {
	b := att.b
	if b.ndead.Load() > 0 {
		pre = att.closeDead(pre)
	}
	switch typ {
	case 'Q', 'F':
		att.inflight++
		att.sent++
		if typ == 'Q' {
			// A simple query drops the unnamed statement.
			c.stmts.unnamed, b.unnamed = nil, nil
			if effect.NamesStatements() {
				pre = c.stmts.namedBySQL(att, &effect, pre)
			}
		}
		return pre
	case 'S':
		att.inflight++
		att.sent++
		att.unsynced = false
		return pre
	}
	att.unsynced = true
	switch typ {
	case 'P':
		name, rest := cut(body)
		query, rest2 := cut(rest)
		def := &stmtDef{query: query, params: bytes.Clone(rest2)}
		if effect.NamesStatements() {
			names := effect // a copy of its own: effect stays on the stack
			def.names = &names
		}
		e := pending{batch: att.sent, name: name, def: def}
		switch {
		case name == "":
			c.stmts.unnamed, b.unnamed = def, def
		case c.stmts.named[name] != nil:
			// PostgreSQL refuses to prepare a name twice: make sure the
			// backend has the client's statement so it does here too.
			pre = c.stmts.prepare(att, name, pre)
			e.dup = true
		default:
			// Another client's statement of that name may be there.
			pre = att.inject('C', name, nil, pre)
			c.stmts.named[name], b.stmts[name] = def, def
			def.preparedOn(b)
		}
		att.parses = append(att.parses, e)
	case 'B':
		_, rest := cut(body) // portal
		stmt, _ := cut(rest)
		pre = c.stmts.prepare(att, stmt, pre)
		if def := c.stmts.def(stmt); def != nil && def.names != nil {
			pre = c.stmts.namedBySQL(att, def.names, pre)
		}
	case 'D':
		if len(body) > 0 && body[0] == 'S' {
			name, _ := cut(body[1:])
			pre = c.stmts.prepare(att, name, pre)
		}
	case 'C':
		if len(body) > 0 && body[0] == 'S' {
			name, _ := cut(body[1:])
			if name == "" {
				c.stmts.unnamed, b.unnamed = nil, nil
			} else {
				if def := c.stmts.named[name]; def != nil {
					dropStmt(name, def, b)
				}
				delete(c.stmts.named, name)
				delete(b.stmts, name)
			}
		}
		att.closes = append(att.closes, pending{batch: att.sent})
	}
	return pre
}

// outBufs recycles the buffers that collect a client's messages until
// they go to the backend, so idle clients hold none.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// write sends pre and the message to the backend when the client has
// nothing more buffered (so a pipeline goes out in one write), else
// collects them. The bytes are the client's own until written: a backend
// that answers the last Sync may serve another client at once, so
// nothing of the backend's is touched after the write.
func (c *pooledClient) write(b *backend, hdr, body, pre []byte) error {
	if c.out == nil {
		c.out = outBufs.Get().(*[]byte)
	}
	out := append(append(append((*c.out)[:0:cap(*c.out)][:len(*c.out)], pre...), hdr...), body...)
	*c.out = out
	if c.br.Buffered() > 0 {
		return nil
	}
	_, err := b.conn.Write(out)
	if cap(out) <= 64<<10 {
		*c.out = out[:0]
		outBufs.Put(c.out)
	}
	c.out = nil
	if err != nil {
		// The relay sees the backend end too and tells the client.
		c.logAt(slog.LevelDebug, "write to pooled backend", logkey.Err, err)
		b.conn.Close()
	}
	return nil
}

// relay copies the backend's messages to the client, dropping the
// answers to injected messages, until a ReadyForQuery leaves nothing
// open ('I', every Sync answered, not pinned): the backend then goes back
// to the pool.
func (c *pooledClient) relay(att *attachment) {
	defer c.p.wg.Done()
	defer close(att.done)
	b, cw := att.b, att.cw
	var hdr [5]byte
	released := false
	// release gives the backend back (reusable: to the pool) and ends
	// the client's hold on it.
	release := func(reusable bool) {
		released = true
		c.mu.Lock()
		if c.att == att {
			c.att = nil
		}
		pinned := c.pinned != ""
		c.mu.Unlock()
		c.p.cancels.Set(c.key, wire.CancelTarget{})
		if pinned && !reusable {
			c.pool.mu.Lock()
			c.pool.pinned--
			c.pool.mu.Unlock()
		}
		c.pool.put(b, reusable)
	}
	defer func() {
		if !released {
			release(false)
		}
		cw.Reset(nil)
		writers.Put(cw)
	}()
	for {
		if _, err := io.ReadFull(b.r, hdr[:]); err != nil {
			c.backendGone(err)
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 || n > maxMessageLen {
			c.backendGone(fmt.Errorf("backend message %q of length %d", hdr[0], n))
			return
		}
		drop, detach := false, false
		switch hdr[0] {
		case '1', '3', 'E', 'Z', 'S':
			body := make([]byte, n-4)
			if _, err := io.ReadFull(b.r, body); err != nil {
				c.backendGone(err)
				return
			}
			c.mu.Lock()
			drop, detach = c.answered(att, hdr[0], body)
			c.mu.Unlock()
			if !drop {
				_, _ = cw.Write(hdr[:])
				_, _ = cw.Write(body)
			}
		default:
			_, _ = cw.Write(hdr[:])
			if _, err := io.CopyN(cw, b.r, int64(n-4)); err != nil {
				c.backendGone(err)
				return
			}
		}
		if detach {
			// Decided again under the lock: the client may have sent
			// more since.
			c.mu.Lock()
			ok := att.inflight == 0 && !att.unsynced && c.pinned == "" && !c.ended
			if ok {
				c.att = nil
			}
			c.mu.Unlock()
			if ok {
				// Under wmu: a next transaction's relay, which the client
				// may start as soon as the backend is back, writes after.
				c.wmu.Lock()
				release(true)
				err := cw.Flush()
				c.wmu.Unlock()
				if err != nil {
					c.conn.Close() // the client is gone: its forwarder ends the session
				}
				return
			}
		}
		if detach || b.r.Buffered() == 0 || hdr[0] == 'Z' {
			c.wmu.Lock()
			err := cw.Flush()
			c.wmu.Unlock()
			if err != nil {
				c.conn.Close() // the client is gone: its forwarder ends the session
				return
			}
		}
	}
}

// answered updates the attachment for a backend message of the kinds that
// answer Parse, Close, Sync or report an error or a setting, and says
// whether to drop it (the answer to an injected message) and whether the
// backend may go back to the pool. c.mu is held.
func (c *pooledClient) answered(att *attachment, typ byte, body []byte) (drop, detach bool) {
	switch typ {
	case '1':
		if len(att.parses) > 0 {
			drop = att.parses[0].injected
			att.parses = att.parses[1:]
		}
	case '3':
		if len(att.closes) > 0 {
			drop = att.closes[0].injected
			att.closes = att.closes[1:]
		}
	case 'E':
		// The backend skips the rest of the batch: its Parses and Closes
		// get no answer; statements they would have made do not exist.
		for len(att.parses) > 0 && att.parses[0].batch <= att.recv {
			c.stmts.undoParse(att, att.parses[0])
			att.parses = att.parses[1:]
		}
		for len(att.closes) > 0 && att.closes[0].batch <= att.recv {
			att.closes = att.closes[1:]
		}
	case 'S':
		// A setting reported to the client changed (SET TimeZone in a
		// function, ...): the backend's state is the client's now.
		if c.pinned == "" {
			c.pinned = "a change of " + cstring(body)
			c.pool.mu.Lock()
			c.pool.pinned++
			c.pool.mu.Unlock()
		}
	case 'Z':
		att.recv++
		att.inflight--
		detach = att.inflight <= 0 && !att.unsynced && len(body) == 1 && body[0] == 'I' && c.pinned == ""
	}
	return drop, detach
}

// backendGone tells the client that its backend ended under it, as
// PostgreSQL's client sees a server that went away, and ends the client.
func (c *pooledClient) backendGone(err error) {
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if ended {
		return
	}
	c.logAt(slog.LevelDebug, "pooled backend ended", logkey.Err, err)
	wire.WriteError(c.conn, &wire.Error{Code: "57P01", Msg: "the database ended the connection (restart, deletion or terminated backend)"})
	c.conn.Close()
}

// end ends a client: a backend it still holds (in a transaction, in the
// middle of a batch, or pinned) carries the client's state and is closed,
// its query cancelled first.
func (c *pooledClient) end() {
	c.mu.Lock()
	c.ended = true
	att := c.att
	busy := att != nil && att.inflight > 0
	c.mu.Unlock()
	if att == nil {
		return
	}
	if busy {
		c.p.cancels.Cancel(c.key)
	}
	att.b.conn.Close()
	<-att.done
}

// cut splits a NUL-terminated string off the front of b.
func cut(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

func cstring(b []byte) string {
	s, _ := cut(b)
	return s
}
