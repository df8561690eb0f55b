// Package wire is what both endpoints of the PostgreSQL front door
// (package pgproxy: the session endpoint; package pooler: the pooled one)
// share, up to the point where a client has a backend.
//
// It reads startup packets and the password message within PostgreSQL's
// own limits (startup.go), decides the database and role of a login
// (route.go: user "<database id or name>.<role>", options
// "endpoint=<database>", the TLS server name "<database>.<public host>",
// or "endpoint=<database>$<password>"), and runs the login itself (Gate:
// cleartext password, Authenticator). It builds the backend's startup
// parameters, which the client can neither forge nor override (token
// claims under request.jwt.*), and reads a backend's answer to them.
//
// Errors reach clients as ErrorResponses with a SQLSTATE from one table
// (errors.go, SQLSTATE; Error for the front door's own refusals, Fail to
// report and log one). Route and ErrorFields give the same routing and
// error fields to logins that do not come through the front door (Neon's
// SQL over HTTP).
//
// CancelRegistry maps the cancel keys clients hold to their backends:
// each key is a backend's real process id (a random one on the pooled
// endpoint) and a secret of the proxy's own, forwarded only on an exact
// match. Registry is what the proxy has open (for its Close) and each
// database's backend sessions, counted against one limit across both
// endpoints.
package wire
