package pgproxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Codes of the special startup packets (package wire has them too).
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
)

func startupBytes(version uint32, params ...string) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[4:], version)
	for _, p := range params {
		b = append(b, p...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func special(code uint32, extra ...byte) []byte {
	b := make([]byte, 8, 8+len(extra))
	binary.BigEndian.PutUint32(b[4:], code)
	b = append(b, extra...)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func passwordBytes(pw string) []byte {
	b := []byte{'p', 0, 0, 0, 0}
	b = append(b, pw...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}

// FuzzNegotiate feeds arbitrary bytes to a proxy connection's whole
// startup phase (SSLRequest with TLS, GSSENCRequest, startup, password)
// over a real socket and checks that the proxy neither crashes nor keeps
// a goroutine after the client is gone.
func FuzzNegotiate(f *testing.F) {
	dir := f.TempDir()
	cfg, err := LoadTLS(dir, "", "")
	if err != nil {
		f.Fatal(err)
	}
	p := New(Config{Addr: "127.0.0.1:0", TLS: cfg, Auth: refuseAll{}, StartupTimeout: 2 * time.Second})
	if err := p.Open(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close(context.Background()) })
	seed := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(seed(startupBytes(pgproto3.ProtocolVersion30, "user", "db.admin"), passwordBytes("pw")))
	f.Add(seed(special(codeGSSENCRequest), startupBytes(pgproto3.ProtocolVersion30, "user", "db.admin"), passwordBytes("a.b.c")))
	f.Add(seed(special(codeSSLRequest), []byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0}))
	f.Add(seed(special(codeCancelRequest, 0, 0, 0, 1, 2, 3, 4, 5)))
	f.Add(seed(startupBytes(pgproto3.ProtocolVersion30, "user", "nodot")))
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(b)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // the proxy answers and closes
		c.Close()
		deadline := time.Now().Add(5 * time.Second)
		for sessionGoroutines() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if sessionGoroutines() > 0 {
			buf := make([]byte, 1<<20)
			t.Fatalf("a session goroutine outlived its connection:\n%s", buf[:runtime.Stack(buf, true)])
		}
	})
}

// sessionGoroutines counts goroutines serving a client connection.
func sessionGoroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "pgproxy.(*Proxy).serve(")
}
