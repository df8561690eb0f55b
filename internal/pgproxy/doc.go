// Package pgproxy is the PostgreSQL front door: one TCP listener speaking
// the wire protocol, in front of every database's private instance.
//
// For each client connection it answers SSLRequest (TLS) and GSSENCRequest
// (declined), reads the startup message (database "postgres"), finds the
// database and role (route.go: user "<database id or name>.<role>", or the
// plain role with options "endpoint=<database>" or the TLS server name
// "<database>.<public host>"), asks for a cleartext password, and hands
// database, role and password to an Authenticator (package control) that classifies the
// password (connect key, connect token, or the role's own password), checks
// it, and returns the instance leased (woken when it was stopped). The proxy
// then opens the backend session over the instance's Unix socket as that
// role, passing the client's startup parameters (options, application_name,
// ...) and the platform's session settings (token claims), which the client
// can neither forge nor override at startup. After the backend's
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
// a SQLSTATE (one table, sqlstateByCode), never as a dropped socket.
//
// With Config.PoolAddr it also serves the pooled endpoint (pool.go,
// pooled.go; docs/POOLER.md): the same startup and login, then a backend
// of a small pool per database, role and startup parameters for each
// transaction, given back at a ReadyForQuery that leaves nothing open.
// There the protocol is read message by message: prepared statements are
// tracked per client and per backend and prepared again on whichever
// backend runs them; statements that leave session state (sqlscan.go) pin
// the client to its backend; SQL naming statements (DEALLOCATE, EXECUTE)
// gets the client's statements on its backend first (dealloc.go), and
// statements a client dropped are closed on the backends it left them on
// (stmtgc.go); idle clients are parked without a goroutine, their sockets
// in an epoll set (park.go); a pool leases its instance only while it has
// backends, so idle databases still stop.
//
// It does not route statements, and it does not know how credentials are
// stored.
package pgproxy
