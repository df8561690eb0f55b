//go:build !linux

package park

import (
	"errors"
	"net"
)

// Parker: parking is Linux only (epoll); elsewhere New fails and idle
// clients keep their goroutines.
type Parker struct{}

// loopTx is the Linux loop's hold on a client (loop_linux.go).
type loopTx struct{}

var errNoParking = errors.New("parking needs Linux")

// New fails: see Parker.
func New(Config) (*Parker, error) { return nil, errNoParking }

// Park fails: see Parker.
func (*Parker) Park(*Spot, int) (net.Conn, error) { return nil, errNoParking }

// Resumed is never called: no client is parked.
func (*Parker) Resumed(*Spot, net.Conn) bool { return false }

// Close is never called: no client is parked.
func (*Parker) Close(*Spot) (bool, net.Conn) { return false, nil }

// Handoff is never called: no client is parked.
func (*Parker) Handoff(*Spot, Backend) {}

// Stop does nothing.
func (*Parker) Stop() {}
