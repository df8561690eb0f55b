// Package pooler is the front door's pooled endpoint: transaction pooling
// (docs/POOLER.md). Package pgproxy accepts its clients, negotiates TLS and
// logs them in (package wire) as on the session endpoint, then hands each
// to Pooler.Serve.
//
// A client gets a backend of a small pool per database, role and startup
// parameters for each transaction (pool.go), given back at a ReadyForQuery
// that leaves nothing open (pooled.go). There the protocol is read message
// by message: prepared statements are tracked per client (stmtBook) and
// per backend and prepared again on whichever backend runs them
// (stmts.go); statements that leave session state (as package sqlscan
// reads them) pin the client to its backend; SQL naming statements
// (DEALLOCATE, EXECUTE) gets the client's statements on its backend first
// (dealloc.go), and statements a client dropped are closed on the backends
// it left them on (stmtgc.go). Clients without TLS are parked when idle
// (parking.go): package park holds their sockets in an epoll set and runs
// their simple queries on its loop, reaching the client and its pool
// through park.Client and park.Backend (parked.go). A pool leases its
// instance only while it has backends, so idle databases still stop.
//
// This package owns the pools, the clients' sessions and statements,
// pins and cancel targets; it does not own the scan of SQL (sqlscan) nor
// the epoll set, its loop and the memory trim after login bursts (park).
//
// The pools' backends count against the proxy's per-database limit
// together with the session endpoint's sessions, and the proxy's Close
// ends them (wire.Registry); cancel keys share the proxy's registry
// (wire.CancelRegistry).
package pooler
