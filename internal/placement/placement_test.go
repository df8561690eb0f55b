package placement

import (
	"strconv"
	"testing"

	"github.com/db9/db9/internal/layout"
)

func TestEndpoint_HostPort(t *testing.T) {
	for _, c := range []struct {
		e          Endpoint
		host, port string
	}{
		{Endpoint{"unix", layout.SocketPath("/d/dbs/x/s")}, "/d/dbs/x/s", strconv.Itoa(layout.Port)},
		{Endpoint{"tcp", "10.0.0.7:6000"}, "10.0.0.7", "6000"},
		{Endpoint{"tcp", "[::1]:6001"}, "::1", "6001"},
	} {
		if h, p := c.e.HostPort(); h != c.host || p != c.port {
			t.Errorf("%v: got %q %q, want %q %q", c.e, h, p, c.host, c.port)
		}
	}
}
