package pgproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// loginResult is a client startup that passed routing and authentication:
// the database is leased (woken when it was stopped).
type loginResult struct {
	params map[string]string // the client's startup parameters, the route taken out
	role   string
	sess   *control.PGSession
	log    *slog.Logger
}

// login runs a client's startup from its StartupMessage to a checked
// login: protocol version, route (route.go), cleartext password,
// Authenticator. On failure the client has been told why and nil is
// returned. The caller releases the lease.
func (p *Proxy) login(conn net.Conn, m *pgproto3.StartupMessage, start time.Time, hostName string) *loginResult {
	params := m.Parameters
	if exts := protocolExtensions(params); m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(exts) > 0 {
		b, _ := (&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: exts}).Encode(nil)
		if _, err := conn.Write(b); err != nil {
			return nil
		}
	}
	user := params["user"]
	if user == "" {
		p.fail(conn, &wireError{code: stateInvalidAuthSpec, msg: "no PostgreSQL user name specified in startup packet"}, "startup")
		return nil
	}
	serverName := hostName
	if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().ServerName != "" {
		serverName = tc.ConnectionState().ServerName
	}
	dbRef, role, options, err := route(user, params["options"], serverName, p.cfg.PublicHost)
	if err == nil {
		err = checkDatabase(params["database"], user)
	}
	if err == nil {
		err = checkOptions(params)
	}
	if err != nil {
		p.fail(conn, err, "startup")
		return nil
	}
	if options != params["options"] {
		params = maps.Clone(params)
		if options == "" {
			delete(params, "options")
		} else {
			params["options"] = options
		}
	}
	b, _ := (&pgproto3.AuthenticationCleartextPassword{}).Encode(nil)
	if _, err := conn.Write(b); err != nil {
		return nil
	}
	password, err := readPassword(conn)
	if err != nil {
		p.fail(conn, err, "password")
		return nil
	}
	if dbRef == "" {
		ep, pw, ok := passwordEndpoint(password)
		if !ok {
			_, _, err := parseUser(user)
			p.fail(conn, err, "startup")
			return nil
		}
		dbRef, password = ep, pw
	}
	ctx, cancel := context.WithDeadline(p.stop, start.Add(p.cfg.StartupTimeout))
	defer cancel()
	sess, err := p.cfg.Auth.Login(ctx, dbRef, role, password)
	if err != nil {
		if pe := (*platform.Error)(nil); errors.As(err, &pe) && pe.Code == platform.CodeNotFound {
			err = &wireError{code: stateUnknownDatabase, msg: pe.Message, hint: routeHint}
		}
		p.fail(conn, err, "login")
		return nil
	}
	return &loginResult{params: params, role: role, sess: sess,
		log: p.log.With(logkey.DB, sess.DatabaseID, logkey.Role, role, logkey.Method, sess.Method)}
}

// session runs one client session from its StartupMessage to its end.
func (p *Proxy) session(conn net.Conn, m *pgproto3.StartupMessage, start time.Time, hostName string) {
	l := p.login(conn, m, start, hostName)
	if l == nil {
		return
	}
	sess, role, params, log := l.sess, l.role, l.params, l.log
	defer sess.Lease.Release()
	ctx, cancel := context.WithDeadline(p.stop, start.Add(p.cfg.StartupTimeout))
	defer cancel()
	if !p.conns.takeSlot(sess.DatabaseID) {
		p.fail(conn, &wireError{code: stateTooManyConns, msg: fmt.Sprintf("too many connections to database %s (limit %d)", sess.DatabaseID, p.cfg.MaxConnsPerDB)}, "login")
		return
	}
	defer p.conns.freeSlot(sess.DatabaseID)

	ep := sess.Lease.Endpoint()
	backend, err := ep.Dial(ctx)
	if err != nil {
		p.fail(conn, &wireError{code: stateCannotConnectNow, msg: "the database is not accepting connections; try again"}, "backend")
		log.Warn("dial backend", logkey.Err, err)
		return
	}
	if !p.conns.track(backend) {
		backend.Close()
		return
	}
	defer p.conns.untrack(backend)
	defer backend.Close()
	_ = backend.SetDeadline(start.Add(p.cfg.StartupTimeout))
	sm := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: backendParams(params, role, sess.Settings)}
	b, err := sm.Encode(nil)
	if err == nil {
		_, err = backend.Write(b)
	}
	if err != nil {
		p.fail(conn, &wireError{code: stateCannotConnectNow, msg: "the database is not accepting connections; try again"}, "backend")
		return
	}
	br := bufio.NewReaderSize(backend, 8192)
	key, ok, err := p.relayStartup(br, conn, ep)
	if err != nil {
		if !errors.Is(err, errClientGone) {
			p.fail(conn, &wireError{code: stateCannotConnectNow, msg: "the database closed the connection during startup; try again"}, "backend")
			log.Warn("backend startup", logkey.Err, err)
		}
		return
	}
	if !ok { // the backend refused (its ErrorResponse was relayed)
		return
	}
	defer p.cancels.remove(key)
	_ = backend.SetDeadline(time.Time{})
	_ = conn.SetDeadline(time.Time{})
	log.Debug("session started", logkey.StartupMs, time.Since(start).Milliseconds())
	if ev := p.cfg.Events; ev != nil {
		ev.SessionStarted(sess.DatabaseID)
		var in, out int64
		defer func() { ev.SessionEnded(sess.DatabaseID, in, out) }()
		in, out = p.relay(conn, backend, br, key)
	} else {
		p.relay(conn, backend, br, key)
	}
	log.Debug("session ended", logkey.Seconds, int(time.Since(start).Seconds()))
}

var errClientGone = errors.New("client went away")

// startupAnswer is a backend's answer to a startup message.
type startupAnswer struct {
	msgs    []byte // as sent, BackendKeyData left out, through ReadyForQuery
	key     *pgproto3.BackendKeyData
	refusal []byte // the backend's ErrorResponse instead, when it refused
}

// readStartupAnswer reads the backend's answer to a startup message
// (AuthenticationOk, ParameterStatus..., BackendKeyData, ReadyForQuery,
// or an ErrorResponse). The backend is trusted to ask for no password.
func readStartupAnswer(br *bufio.Reader) (a startupAnswer, err error) {
	a.msgs = make([]byte, 0, 1024)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return a, err
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 || n > 1<<20 {
			return a, fmt.Errorf("backend message %q of length %d", hdr[0], n)
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(br, body); err != nil {
			return a, err
		}
		switch hdr[0] {
		case 'R':
			if len(body) < 4 || binary.BigEndian.Uint32(body) != 0 {
				return a, fmt.Errorf("backend asked for authentication (trust expected)")
			}
		case 'K':
			if a.key != nil {
				return a, fmt.Errorf("backend sent BackendKeyData twice")
			}
			a.key = &pgproto3.BackendKeyData{}
			if err := a.key.Decode(body); err != nil {
				return a, err
			}
			continue
		case 'E':
			a.refusal = append(hdr[:], body...)
			return a, nil
		}
		a.msgs = append(a.msgs, hdr[:]...)
		a.msgs = append(a.msgs, body...)
		if hdr[0] == 'Z' {
			return a, nil
		}
	}
}

// relayStartup forwards the backend's answer to the startup message to
// the client, replacing the secret in BackendKeyData with one of the
// proxy's own (the process id stays the backend's). ok is false when the
// backend answered with an ErrorResponse instead (relayed as it is).
func (p *Proxy) relayStartup(br *bufio.Reader, client net.Conn, ep placement.Endpoint) (key cancelKey, ok bool, err error) {
	a, err := readStartupAnswer(br)
	if err != nil {
		return cancelKey{}, false, err
	}
	if a.refusal != nil {
		if _, err := client.Write(a.refusal); err != nil {
			return cancelKey{}, false, errClientGone
		}
		return cancelKey{}, false, nil
	}
	out := a.msgs[: len(a.msgs)-6 : len(a.msgs)-6] // ReadyForQuery is 6 bytes
	rfq := a.msgs[len(a.msgs)-6:]
	if a.key != nil {
		key = p.cancels.add(cancelTarget{ep: ep, pid: a.key.ProcessID, secret: a.key.SecretKey})
		if out, err = (&pgproto3.BackendKeyData{ProcessID: key.pid, SecretKey: key.secretBytes()}).Encode(out); err != nil {
			p.cancels.remove(key)
			return cancelKey{}, false, err
		}
	}
	out = append(out, rfq...)
	if _, err := client.Write(out); err != nil {
		p.cancels.remove(key)
		return cancelKey{}, false, errClientGone
	}
	return key, true, nil
}

// clientGoneGrace is how long a backend gets to end by itself after its
// client went away (it does at once when idle or reading); past it, the
// query it is running is cancelled.
const clientGoneGrace = 100 * time.Millisecond

// relay copies bytes both ways until one side ends: on an event loop when
// it can (a plaintext client, nothing read ahead from the backend), else
// with two goroutines.
func (p *Proxy) relay(client, backend net.Conn, br *bufio.Reader, key cancelKey) (fromClient, fromBackend int64) {
	if p.loops != nil && !p.noLoops.Load() && br.Buffered() == 0 {
		if _, isTLS := client.(*tls.Conn); !isTLS {
			s, err := p.loops.start(client, backend)
			if err == nil {
				p.waitLoopSession(s, key)
				return s.client.read, s.backend.read
			}
			p.log.Debug("relay on a goroutine pair", logkey.Err, err)
		}
	}
	backendDone := make(chan struct{})
	go func() {
		defer close(backendDone)
		fromBackend, _ = io.CopyBuffer(writerOnly{client}, readerOnly{br}, make([]byte, 32<<10))
		// The backend ended (or the client cannot take more): end the
		// client's side, which also ends the copy below.
		client.Close()
	}()
	fromClient, _ = io.CopyBuffer(writerOnly{backend}, readerOnly{client}, make([]byte, 32<<10))
	// The client ended (Terminate and close, or vanished). A backend
	// that is idle or reading sees EOF and exits; one in the middle of a
	// query would run it to the end.
	if uc, ok := backend.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	p.cancelLingering(backendDone, key)
	backend.Close()
	<-backendDone
	return fromClient, fromBackend
}

// waitLoopSession waits for the end of a session relayed on an event loop.
func (p *Proxy) waitLoopSession(s *loopSession, key cancelKey) {
	defer func() {
		s.Close()
		<-s.done
	}()
	if !p.conns.track(s) {
		return
	}
	defer p.conns.untrack(s)
	select {
	case <-s.done:
	case <-s.clientGone: // the loop has shut the backend's write side
		p.cancelLingering(s.done, key)
	}
}

// cancelLingering waits for the backend of a session whose client went
// away to end by itself, and cancels its query when it does not within
// clientGoneGrace; the caller closes the backend after at most 5 more
// seconds.
func (p *Proxy) cancelLingering(backendDone <-chan struct{}, key cancelKey) {
	select {
	case <-backendDone:
	case <-time.After(clientGoneGrace):
		p.cancels.cancel(key)
		select {
		case <-backendDone:
		case <-time.After(5 * time.Second):
		}
	}
}

// readerOnly and writerOnly hide ReadFrom/WriteTo so the relay copies with
// plain read and write calls: the splice(2) path the net package would
// take between TCP and Unix sockets costs two extra pipe operations per
// chunk, and protocol messages are small.
type readerOnly struct{ io.Reader }

type writerOnly struct{ io.Writer }
