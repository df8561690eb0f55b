package pgproxy

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/placement"
)

// cancelTarget is where a session's cancel requests go: its backend's
// endpoint and the backend's own key, which the client never learns.
type cancelTarget struct {
	ep     placement.Endpoint
	pid    uint32
	secret []byte
}

// cancelRegistry maps the keys the proxy gave its clients (a random 32-bit
// "process id" and 32-bit secret, 64 random bits in all) to backends. A
// CancelRequest is forwarded only on an exact match, so a client can cancel
// its own session's query and no other.
type cancelRegistry struct {
	mu sync.Mutex
	m  map[uint64]cancelTarget
}

func newCancelRegistry() *cancelRegistry { return &cancelRegistry{m: map[uint64]cancelTarget{}} }

// add registers t under a new random key and returns the key and its two
// halves as the client sees them.
func (r *cancelRegistry) add(t cancelTarget) (key uint64, pid uint32, secret []byte) {
	var b [8]byte
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		key = binary.BigEndian.Uint64(b[:])
		if _, taken := r.m[key]; !taken && key != 0 {
			break
		}
	}
	r.m[key] = t
	return key, binary.BigEndian.Uint32(b[:4]), append([]byte(nil), b[4:]...)
}

func (r *cancelRegistry) remove(key uint64) {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
}

// forward sends the backend cancel request matching a client's, if any.
// Like PostgreSQL, it answers nothing either way.
func (r *cancelRegistry) forward(m *pgproto3.CancelRequest) {
	if len(m.SecretKey) != 4 {
		return
	}
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], m.ProcessID)
	copy(b[4:], m.SecretKey)
	r.cancel(binary.BigEndian.Uint64(b[:]))
}

// cancel asks the backend registered under key to cancel its query.
func (r *cancelRegistry) cancel(key uint64) {
	r.mu.Lock()
	t, ok := r.m[key]
	r.mu.Unlock()
	if !ok {
		return
	}
	c, err := net.DialTimeout(t.ep.Network, t.ep.Address, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := (&pgproto3.CancelRequest{ProcessID: t.pid, SecretKey: t.secret}).Encode(nil)
	if err != nil {
		return
	}
	if _, err := c.Write(b); err != nil {
		return
	}
	// PostgreSQL closes the connection once it has handled the request;
	// waiting for that makes the cancel synchronous for the caller.
	var one [1]byte
	_, _ = c.Read(one[:])
}
