// Package park keeps the idle clients of the pooled endpoint cheap,
// PgBouncer's way (docs/POOLER.md): a parked client has no goroutine, no
// buffers and no net.Conn, only its socket in an epoll set (Parker) and
// its bookkeeping in package pooler. The Parker's loop runs a parked
// client's plain simple queries itself, on an idle backend of its pool,
// so the client stays parked (loop_linux.go); anything else it hands back
// to a goroutine of the client's own. After a burst of logins the memory
// they freed goes back to the OS at once (Trimmer).
//
// It owns the epoll set, the parked sockets (Spot), the loop's
// transactions (framing of a backend's answer, writes a client could not
// take yet, queueing for a backend with its timeout) and the hand-offs
// between the loop and a client's goroutine. It does not own the pools,
// the backends, the clients' prepared statements or pins, cancel keys or
// the proxy's tracking of connections: those are package pooler's, which
// the loop reaches through two small interfaces, Client and Backend.
//
// Parking is Linux only; elsewhere New fails and clients keep their
// goroutines.
package park
