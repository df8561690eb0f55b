//go:build !linux

package wire

import (
	"errors"
	"net"
)

// DupFD is Linux only here: the event loops and parking that use it are.
func DupFD(net.Conn) (int, error) { return -1, errors.New("descriptor duplication needs Linux") }
