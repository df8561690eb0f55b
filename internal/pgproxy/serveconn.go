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
	if !p.conns.TrackServing(conn, &p.wg) {
		conn.Close()
		return
	}
	p.serve(conn, hostName, false)
}
