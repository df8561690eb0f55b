package pgproxy

import "net"

// ServeConn serves a client connection accepted elsewhere — the wire
// protocol tunnelled through a WebSocket, as Neon's serverless driver
// speaks it — exactly as one accepted on the listener (SSLRequest, startup,
// password, routing, relay), and returns when the session ends. It closes
// conn. hostName is the host the client addressed (the WebSocket request's
// host, without port): like a TLS server name "<database>.<public host>"
// it may name the database; a server name negotiated by TLS inside the
// tunnel takes precedence.
func (p *Proxy) ServeConn(conn net.Conn, hostName string) {
	if !p.conns.trackServing(conn, &p.wg) {
		conn.Close()
		return
	}
	p.serve(conn, hostName, false)
}

// Route applies the front door's routing to a login that does not come
// through it (Neon's SQL over HTTP): the database and role named by the
// user, the options string, the host the client addressed and, when none
// of those names the database, the password ("endpoint=<db>$<password>"),
// and the password proper. Errors carry the SQLSTATE the front door would
// send (ErrorFields).
func Route(user, options, hostName, publicHost, password string) (dbRef, role, pw string, err error) {
	dbRef, role, _, err = route(user, options, hostName, publicHost)
	if err != nil {
		return "", "", "", err
	}
	if dbRef != "" {
		return dbRef, role, password, nil
	}
	ep, rest, ok := passwordEndpoint(password)
	if !ok {
		_, _, err = parseUser(user)
		return "", "", "", err
	}
	return ep, role, rest, nil
}

// ErrorFields is what the front door would tell a client about err: its
// SQLSTATE, message and hint (internal errors get a generic message).
func ErrorFields(err error) (sqlstate, message, hint string) {
	r := errorResponse(err)
	return r.Code, r.Message, r.Hint
}
