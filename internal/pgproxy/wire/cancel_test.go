package wire

import (
	"bytes"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/placement"
)

// cancelSink listens on a Unix socket as a postmaster does for cancel
// requests and reports each one it receives.
func cancelSink(t *testing.T) (sock string, got <-chan *pgproto3.CancelRequest) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), ".s.PGSQL.5432")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan *pgproto3.CancelRequest, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m, err := ReadStartupPacket(c)
			if cr, ok := m.(*pgproto3.CancelRequest); err == nil && ok {
				ch <- cr
			}
			c.Close()
		}
	}()
	return sock, ch
}

func expectCancel(t *testing.T, got <-chan *pgproto3.CancelRequest, pid uint32, secret []byte) {
	t.Helper()
	select {
	case m := <-got:
		if m.ProcessID != pid || !bytes.Equal(m.SecretKey, secret) {
			t.Errorf("backend got cancel %d/%x, want %d/%x", m.ProcessID, m.SecretKey, pid, secret)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("backend got no cancel request")
	}
}

func expectNoCancel(t *testing.T, got <-chan *pgproto3.CancelRequest, what string) {
	t.Helper()
	select {
	case m := <-got:
		t.Errorf("%s reached a backend: %d/%x", what, m.ProcessID, m.SecretKey)
	default:
	}
}

// TestCancelRegistry_SamePID: two backends of different instances with the
// same process id (instances in other pid namespaces or on other hosts)
// get keys with that pid and different secrets; each key cancels its own
// backend only, with the backend's own secret, and a right pid with a
// wrong secret cancels nothing.
func TestCancelRegistry_SamePID(t *testing.T) {
	sockA, gotA := cancelSink(t)
	sockB, gotB := cancelSink(t)
	r := NewCancelRegistry()
	secretA, secretB := []byte{1, 1, 1, 1}, []byte{2, 2, 2, 2}
	ka := r.Add(CancelTarget{EP: placement.Endpoint{Network: "unix", Address: sockA}, PID: 4242, Secret: secretA})
	kb := r.Add(CancelTarget{EP: placement.Endpoint{Network: "unix", Address: sockB}, PID: 4242, Secret: secretB})
	if ka.PID != 4242 || kb.PID != 4242 {
		t.Fatalf("keys carry pids %d and %d, want the backend's 4242", ka.PID, kb.PID)
	}
	if ka == kb {
		t.Fatalf("two sessions got the same key %+v", ka)
	}

	r.Forward(&pgproto3.CancelRequest{ProcessID: 4242, SecretKey: kb.SecretBytes()})
	expectCancel(t, gotB, 4242, secretB)
	expectNoCancel(t, gotA, "B's cancel")

	wrong := CancelKey{PID: 4242, Secret: ka.Secret ^ 1}
	if wrong == kb {
		wrong.Secret ^= 2
	}
	// forward returns once the sink has the request (it waits for the
	// backend to close), so the channels are up to date after each call.
	r.Forward(&pgproto3.CancelRequest{ProcessID: 4242, SecretKey: wrong.SecretBytes()})
	r.Forward(&pgproto3.CancelRequest{ProcessID: 4242, SecretKey: secretA}) // the backend's own secret
	r.Forward(&pgproto3.CancelRequest{ProcessID: 4243, SecretKey: ka.SecretBytes()})
	r.Forward(&pgproto3.CancelRequest{ProcessID: 4242, SecretKey: ka.SecretBytes()[:3]})
	expectNoCancel(t, gotA, "a cancel with a wrong key")
	expectNoCancel(t, gotB, "a cancel with a wrong key")

	r.Forward(&pgproto3.CancelRequest{ProcessID: 4242, SecretKey: ka.SecretBytes()})
	expectCancel(t, gotA, 4242, secretA)

	r.Remove(ka)
	r.Forward(&pgproto3.CancelRequest{ProcessID: 4242, SecretKey: ka.SecretBytes()})
	expectNoCancel(t, gotA, "a cancel after the session ended")
}
