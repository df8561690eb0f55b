package pgproxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func FuzzReadStartupPacket(f *testing.F) {
	f.Add(startupBytes(pgproto3.ProtocolVersion30, "user", "db.admin", "database", "postgres", "options", "-c x=1"))
	f.Add(startupBytes(pgproto3.ProtocolVersion32, "user", "a.b", "_pq_.ext", "1"))
	f.Add(special(codeSSLRequest))
	f.Add(special(codeGSSENCRequest))
	f.Add(special(codeCancelRequest, 0, 0, 0, 1, 2, 3, 4, 5))
	f.Add([]byte{0, 0, 0, 8, 0, 3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readStartupPacket(bytes.NewReader(b))
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
		if sm, ok := m.(*pgproto3.StartupMessage); ok {
			if u, ok := sm.Parameters["user"]; ok {
				_, _, _ = parseUser(u)
			}
			_ = checkOptions(sm.Parameters)
			p := backendParams(sm.Parameters, "r", map[string]string{"request.jwt.claims": "{}"})
			if p["user"] != "r" || p["database"] != "postgres" || p["request.jwt.claims"] != "{}" {
				t.Fatalf("backend params %v", p)
			}
		}
	})
}

func FuzzReadPassword(f *testing.F) {
	f.Add(passwordBytes("secret"))
	f.Add(passwordBytes("db9ck_abc"))
	f.Add(passwordBytes("a.b.c"))
	f.Add([]byte{'p', 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		pw, err := readPassword(bytes.NewReader(b))
		if err == nil && (pw == "" || len(pw) > maxPasswordLen) {
			t.Fatalf("accepted password of %d bytes", len(pw))
		}
	})
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
