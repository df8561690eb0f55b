package pgproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgproxy/wire"
	"github.com/db9/db9/internal/placement"
)

// session runs one client session from its StartupMessage to its end.
func (p *Proxy) session(conn net.Conn, m *pgproto3.StartupMessage, start time.Time, hostName string) {
	l := p.login(conn, m, start, hostName)
	if l == nil {
		return
	}
	sess, role, params, log := l.Sess, l.Role, l.Params, l.Log
	defer sess.Lease.Release()
	ctx, cancel := context.WithDeadline(p.stop, start.Add(p.cfg.StartupTimeout))
	defer cancel()
	if !p.conns.TakeSlot(sess.DatabaseID) {
		wire.Fail(p.log, conn, &wire.Error{Code: wire.StateTooManyConns, Msg: fmt.Sprintf("too many connections to database %s (limit %d)", sess.DatabaseID, p.cfg.MaxConnsPerDB)}, "login")
		return
	}
	defer p.conns.FreeSlot(sess.DatabaseID)

	ep := sess.Lease.Endpoint()
	backend, err := ep.Dial(ctx)
	if err != nil {
		wire.Fail(p.log, conn, &wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database is not accepting connections; try again"}, "backend")
		log.Warn("dial backend", logkey.Err, err)
		return
	}
	if !p.conns.Track(backend) {
		backend.Close()
		return
	}
	defer p.conns.Untrack(backend)
	defer backend.Close()
	_ = backend.SetDeadline(start.Add(p.cfg.StartupTimeout))
	sm := &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: wire.BackendParams(params, role, sess.Settings)}
	b, err := sm.Encode(nil)
	if err == nil {
		_, err = backend.Write(b)
	}
	if err != nil {
		wire.Fail(p.log, conn, &wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database is not accepting connections; try again"}, "backend")
		return
	}
	br := bufio.NewReaderSize(backend, 8192)
	key, ok, err := p.relayStartup(br, conn, ep)
	if err != nil {
		if !errors.Is(err, errClientGone) {
			wire.Fail(p.log, conn, &wire.Error{Code: wire.StateCannotConnectNow, Msg: "the database closed the connection during startup; try again"}, "backend")
			log.Warn("backend startup", logkey.Err, err)
		}
		return
	}
	if !ok { // the backend refused (its ErrorResponse was relayed)
		return
	}
	defer p.cancels.Remove(key)
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

// relayStartup forwards the backend's answer to the startup message to
// the client, replacing the secret in BackendKeyData with one of the
// proxy's own (the process id stays the backend's). ok is false when the
// backend answered with an ErrorResponse instead (relayed as it is).
func (p *Proxy) relayStartup(br *bufio.Reader, client net.Conn, ep placement.Endpoint) (key wire.CancelKey, ok bool, err error) {
	a, err := wire.ReadStartupAnswer(br)
	if err != nil {
		return wire.CancelKey{}, false, err
	}
	if a.Refusal != nil {
		if _, err := client.Write(a.Refusal); err != nil {
			return wire.CancelKey{}, false, errClientGone
		}
		return wire.CancelKey{}, false, nil
	}
	out := a.Msgs[: len(a.Msgs)-6 : len(a.Msgs)-6] // ReadyForQuery is 6 bytes
	rfq := a.Msgs[len(a.Msgs)-6:]
	if a.Key != nil {
		key = p.cancels.Add(wire.CancelTarget{EP: ep, PID: a.Key.ProcessID, Secret: a.Key.SecretKey})
		if out, err = (&pgproto3.BackendKeyData{ProcessID: key.PID, SecretKey: key.SecretBytes()}).Encode(out); err != nil {
			p.cancels.Remove(key)
			return wire.CancelKey{}, false, err
		}
	}
	out = append(out, rfq...)
	if _, err := client.Write(out); err != nil {
		p.cancels.Remove(key)
		return wire.CancelKey{}, false, errClientGone
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
func (p *Proxy) relay(client, backend net.Conn, br *bufio.Reader, key wire.CancelKey) (fromClient, fromBackend int64) {
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
func (p *Proxy) waitLoopSession(s *loopSession, key wire.CancelKey) {
	defer func() {
		s.Close()
		<-s.done
	}()
	if !p.conns.Track(s) {
		return
	}
	defer p.conns.Untrack(s)
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
func (p *Proxy) cancelLingering(backendDone <-chan struct{}, key wire.CancelKey) {
	select {
	case <-backendDone:
	case <-time.After(clientGoneGrace):
		p.cancels.Cancel(key)
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
