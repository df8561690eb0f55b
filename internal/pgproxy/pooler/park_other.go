//go:build !linux

package pooler

import (
	"errors"
	"net"
	"sync"
)

// Parking is Linux only (epoll); elsewhere idle clients keep their
// goroutines.
type parker struct {
	mu     sync.Mutex
	parked map[int32]*pooledClient
}

// loopTx is the Linux parker loop's hold on a client (loop_linux.go).
type loopTx struct{}

var errNoParking = errors.New("parking needs Linux")

func newParker(*Pooler) (*parker, error) { return nil, errNoParking }

func (*parker) park(*pooledClient, int) (net.Conn, error) { return nil, errNoParking }
func (*parker) handoff(*pooledClient, *backend)           {}
func (*parker) stop()                                     {}
