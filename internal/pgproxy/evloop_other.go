//go:build !linux

package pgproxy

import (
	"errors"
	"net"
)

// Event loops are Linux only (epoll); elsewhere every session relays with
// two goroutines.
type eventLoops struct{}

type loopSession struct {
	clientGone, done chan struct{}
	client, backend  struct{ read int64 }
}

func (s *loopSession) Close() error { return nil }

func newEventLoops(int) (*eventLoops, error) { return nil, errors.New("event loops need Linux") }

func (*eventLoops) close() {}

func (*eventLoops) start(net.Conn, net.Conn) (*loopSession, error) {
	return nil, errors.New("event loops need Linux")
}
