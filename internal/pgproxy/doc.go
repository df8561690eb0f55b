// Package pgproxy is the PostgreSQL front door: one TCP listener speaking
// the wire protocol, in front of every database's private instance.
//
// For each client connection it answers SSLRequest (TLS) and GSSENCRequest
// (declined), reads the startup message (database "postgres"), and logs
// the client in with package wire: it finds the database and role (user
// "<database id or name>.<role>", or the plain role with options
// "endpoint=<database>" or the TLS server name "<database>.<public host>"),
// asks for a cleartext password, and hands database, role and password to
// an Authenticator (package control) that classifies the password (connect
// key, connect token, or the role's own password), checks it, and returns
// the instance leased (woken when it was stopped). The proxy then opens
// the backend session over the instance's Unix socket as that role,
// passing the client's startup parameters (options, application_name, ...)
// and the platform's session settings (token claims), which the client can
// neither forge nor override at startup. After the backend's
// ReadyForQuery it copies bytes both ways until either side ends.
//
// Plaintext sessions are relayed by event loops (Linux epoll, one per 4
// of GOMAXPROCS by default, Config.RelayLoops), PgBouncer's way: the
// loop owns duplicates of the session's two sockets, reads once on
// readiness and writes straight to the peer, and waits for writability
// only when a write is partial (reading that side stops until the rest is
// written: a slow client holds its backend back, memory stays bounded).
// The session's goroutine stays parked until the loop ends the session,
// so the lease, the connection count and the cancel key are released as
// before. TLS sessions relay with two goroutines and io.CopyBuffer.
//
// The client's BackendKeyData carries its backend's real process id (so
// the driver, pg_backend_pid(), pg_stat_activity and pg_terminate_backend
// agree) and a random secret of the proxy's own instead of the backend's.
// A CancelRequest is forwarded, with the backend's secret, only when both
// pid and secret match a session's, so it reaches that session's backend
// and no other, even where pids of two instances are equal. A client that vanishes mid-query has its query
// cancelled and its backend closed. The lease is held for the whole session,
// so the idle reaper never stops an instance under an open session.
//
// Every failure before the relay reaches the client as an ErrorResponse with
// a SQLSTATE (one table, wire.SQLSTATE), never as a dropped socket.
//
// With Config.PoolAddr it also serves the pooled endpoint, transaction
// pooling (package pooler, docs/POOLER.md), after the same negotiation and
// login. The cancel keys and the connection registry (Config.MaxConnsPerDB
// and Close) are the proxy's, shared by both endpoints (package wire).
//
// It does not route statements, and it does not know how credentials are
// stored.
package pgproxy
