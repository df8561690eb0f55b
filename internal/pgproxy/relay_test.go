package pgproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/db9/db9/internal/pgproxy/wire"
	"github.com/db9/db9/internal/placement"
)

// The relay moves bytes only, so these tests stand in for the client and
// the backend with plain sockets of the same kinds (TCP, Unix); the
// end-to-end tests run the same paths against real PostgreSQL.

// relayRig is a Proxy with one session in its relay: client is the
// client's end of a TCP connection, backend the backend's end of a Unix
// one. ended is closed when the relay returned.
type relayRig struct {
	p                *Proxy
	client, backend  net.Conn
	ended            chan struct{}
	fds, goroutines0 int
}

// relays are the two relays every test runs against.
var relays = []struct {
	name  string
	loops bool
}{{"loop", true}, {"goroutines", false}}

// startRelay starts a session's relay; cancel, when not nil, is where its
// cancel requests go.
func startRelay(t *testing.T, loops bool, cancel *wire.CancelTarget) *relayRig {
	t.Helper()
	r := &relayRig{fds: openFDs(t), goroutines0: runtime.NumGoroutine(), ended: make(chan struct{})}
	r.p = New(Config{Addr: "127.0.0.1:0", Auth: refuseAll{}})
	if err := r.p.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var key wire.CancelKey
	if cancel != nil {
		key = r.p.cancels.Add(*cancel)
	}
	r.p.setLoopRelay(loops)
	if loops && r.p.loops == nil {
		t.Fatal("no event loops")
	}
	t.Cleanup(func() { r.p.Close(context.Background()) })

	var proxyClient, proxyBackend net.Conn
	r.client, proxyClient, proxyBackend, r.backend = sessionSockets(t)

	// As Proxy.serve and Proxy.session do around the relay.
	r.p.wg.Add(1)
	go func() {
		defer r.p.wg.Done()
		defer close(r.ended)
		r.p.conns.Track(proxyClient)
		defer r.p.conns.Untrack(proxyClient)
		defer proxyClient.Close()
		r.p.conns.Track(proxyBackend)
		defer r.p.conns.Untrack(proxyBackend)
		defer proxyBackend.Close()
		r.p.relay(proxyClient, proxyBackend, bufio.NewReader(proxyBackend), key)
	}()
	return r
}

// waitEnded waits for the relay to return, then checks that the proxy
// holds no descriptor or goroutine more than before it started.
func (r *relayRig) waitEnded(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-r.ended:
	case <-time.After(within):
		t.Fatalf("the relay did not end within %s", within)
	}
	r.client.Close()
	r.backend.Close()
	r.p.Close(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for {
		fds, gs := openFDs(t), runtime.NumGoroutine()
		if fds <= r.fds && gs <= r.goroutines0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: %d descriptors open (%d before), %d goroutines (%d before)", fds, r.fds, gs, r.goroutines0)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sessionSockets returns the two connections of a session: client and
// proxyClient are the ends of a TCP connection, proxyBackend and backend
// of a Unix one. The test closes client and backend at its end.
func sessionSockets(t *testing.T) (client, proxyClient, proxyBackend, backend net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if proxyClient, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	uln, err := net.Listen("unix", filepath.Join(t.TempDir(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	if proxyBackend, err = net.Dial("unix", uln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if backend, err = uln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	return client, proxyClient, proxyBackend, backend
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// expectEOF reads EOF from c within 2 s (well before the relay closes a
// backend that lingers, 5 s after the cancel), failing on any byte or
// other error.
func expectEOF(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [1]byte
	if n, err := c.Read(b[:]); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("%s: read %d bytes, %v; want EOF", what, n, err)
	}
}

// TestRelay_BothWays: bytes go through intact both ways, in messages of
// every size; when the client closes, the backend reads EOF, and when the
// backend then closes, the session ends.
func TestRelay_BothWays(t *testing.T) {
	for _, rl := range relays {
		t.Run(rl.name, func(t *testing.T) {
			r := startRelay(t, rl.loops, nil)
			// Request/response, like pgbench: small writes that each wait
			// for their answer.
			for i := range 200 {
				q := randomBytes(t, 1+i*37%3000)
				if _, err := r.client.Write(q); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(q))
				if _, err := io.ReadFull(r.backend, got); err != nil || !bytes.Equal(got, q) {
					t.Fatalf("backend read %v", err)
				}
				a := randomBytes(t, 1+i*101%70000)
				if _, err := r.backend.Write(a); err != nil {
					t.Fatal(err)
				}
				got = make([]byte, len(a))
				if _, err := io.ReadFull(r.client, got); err != nil || !bytes.Equal(got, a) {
					t.Fatalf("client read %v", err)
				}
			}
			// A COPY FROM: 8 MB from the client in one stream.
			in := randomBytes(t, 8<<20)
			go r.client.Write(in)
			got := make([]byte, len(in))
			if _, err := io.ReadFull(r.backend, got); err != nil || !bytes.Equal(got, in) {
				t.Fatalf("backend read of 8 MB: %v", err)
			}
			r.client.Close()
			expectEOF(t, r.backend, "backend after the client closed")
			r.backend.Close()
			r.waitEnded(t, 5*time.Second)
		})
	}
}

// TestRelay_SlowReader: a client that does not read holds the backend
// back (the relay buffers a bounded amount), and a 50 MB result read
// slowly arrives intact.
func TestRelay_SlowReader(t *testing.T) {
	const size = 50 << 20
	for _, rl := range relays {
		t.Run(rl.name, func(t *testing.T) {
			r := startRelay(t, rl.loops, nil)
			data := randomBytes(t, size)
			var written atomic.Int64
			go func() {
				for off := 0; off < len(data); off += 64 << 10 {
					n, err := r.backend.Write(data[off:min(off+64<<10, len(data))])
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
			time.Sleep(500 * time.Millisecond)
			// What the backend got rid of sits in socket buffers (a few
			// MB on loopback) and at most 32 KB in the relay.
			if w := written.Load(); w > 16<<20 {
				t.Fatalf("the backend wrote %d MB to a client that reads nothing", w>>20)
			}
			h := sha256.New()
			buf := make([]byte, 16<<10)
			_ = r.client.SetReadDeadline(time.Now().Add(time.Minute))
			var got int
			for got < size {
				n, err := r.client.Read(buf)
				h.Write(buf[:n])
				got += n
				if err != nil {
					t.Fatalf("after %d bytes: %v", got, err)
				}
				if got%(1<<20) < n {
					time.Sleep(2 * time.Millisecond)
				}
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatal("the result arrived corrupted")
			}
			r.backend.Close()
			expectEOF(t, r.client, "client after the backend closed")
			r.waitEnded(t, 5*time.Second)
		})
	}
}

// TestRelay_ClientVanishesMidResult: a client that closes while the
// backend streams a result ends the session; the backend's writes fail.
func TestRelay_ClientVanishesMidResult(t *testing.T) {
	for _, rl := range relays {
		for _, reset := range []bool{false, true} {
			name := rl.name + "/close"
			if reset {
				name = rl.name + "/reset"
			}
			t.Run(name, func(t *testing.T) {
				r := startRelay(t, rl.loops, nil)
				backendErr := make(chan error, 1)
				go func() {
					chunk := randomBytes(t, 8<<10)
					for {
						if _, err := r.backend.Write(chunk); err != nil {
							backendErr <- err
							return
						}
					}
				}()
				if _, err := io.ReadFull(r.client, make([]byte, 1<<20)); err != nil {
					t.Fatal(err)
				}
				if reset {
					_ = r.client.(*net.TCPConn).SetLinger(0)
				}
				r.client.Close()
				select {
				case <-backendErr:
				case <-time.After(10 * time.Second):
					t.Fatal("the backend could still write 10 s after its client went away")
				}
				r.waitEnded(t, 5*time.Second)
			})
		}
	}
}

// TestRelay_ClientGoneBackendBusy: a backend that does not end after its
// client went away (a query running) gets a cancel request after the
// grace period, on its instance's socket with its own key.
func TestRelay_ClientGoneBackendBusy(t *testing.T) {
	for _, rl := range relays {
		t.Run(rl.name, func(t *testing.T) {
			pm, err := net.Listen("unix", filepath.Join(t.TempDir(), "pm"))
			if err != nil {
				t.Fatal(err)
			}
			defer pm.Close()
			r := startRelay(t, rl.loops, &wire.CancelTarget{EP: placement.Endpoint{Network: "unix", Address: pm.Addr().String()}, PID: 4242, Secret: []byte{1, 2, 3, 4}})

			start := time.Now()
			r.client.Close()
			c, err := pm.Accept()
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			b := make([]byte, 16)
			if _, err := io.ReadFull(c, b); err != nil {
				t.Fatal(err)
			}
			c.Close()
			if pid := binary.BigEndian.Uint32(b[8:]); pid != 4242 || !bytes.Equal(b[12:], []byte{1, 2, 3, 4}) || took < clientGoneGrace {
				t.Errorf("cancel request %x after %s", b, took)
			}
			// The cancelled query ends; the backend, having read EOF,
			// exits.
			expectEOF(t, r.backend, "backend after the client closed")
			r.backend.Close()
			r.waitEnded(t, 5*time.Second)
		})
	}
}

// TestRelay_ProxyCloseEndsSessions: Proxy.Close ends a session in the
// relay; both peers see their connection closed.
func TestRelay_ProxyCloseEndsSessions(t *testing.T) {
	for _, rl := range relays {
		t.Run(rl.name, func(t *testing.T) {
			r := startRelay(t, rl.loops, nil)
			if _, err := r.client.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(r.backend, make([]byte, 4)); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { r.p.Close(context.Background()); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Proxy.Close did not return")
			}
			expectEOF(t, r.client, "client")
			expectEOF(t, r.backend, "backend")
			r.waitEnded(t, time.Second)
		})
	}
}

// TestEventLoops_StartAfterClose: a session handed to a loop that has
// stopped ends at once with its descriptors closed, rather than never.
func TestEventLoops_StartAfterClose(t *testing.T) {
	client, proxyClient, proxyBackend, backend := sessionSockets(t)
	fds := openFDs(t)
	ls, err := newEventLoops(1)
	if err != nil {
		t.Fatal(err)
	}
	ls.close()
	s, err := ls.start(proxyClient, proxyBackend)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(time.Second):
		t.Fatal("the session did not end")
	}
	expectEOF(t, client, "client")
	expectEOF(t, backend, "backend")
	if n := openFDs(t); n != fds-2 { // start closed proxyClient and proxyBackend
		t.Errorf("%d descriptors open, want %d", n, fds-2)
	}
}
