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
// endpoint and the backend's own key, whose secret the client never learns.
type cancelTarget struct {
	ep     placement.Endpoint
	pid    uint32
	secret []byte
}

// cancelKey is the key a client holds: its backend's real process id (so
// the driver's pid, pg_backend_pid() and pg_stat_activity agree, and
// pg_terminate_backend of it works) and a random secret of the proxy's own.
type cancelKey struct {
	pid, secret uint32
}

// cancelRegistry maps the keys the proxy gave its clients to backends. A
// CancelRequest is forwarded only on an exact match of pid and secret, so
// a client can cancel its own session's query and no other. The map is
// keyed by both halves: process ids of different instances may be equal
// (instances on other hosts, in other pid namespaces), and the pair stays
// unique because add draws the secret until it is.
type cancelRegistry struct {
	mu sync.Mutex
	m  map[cancelKey]cancelTarget
}

func newCancelRegistry() *cancelRegistry { return &cancelRegistry{m: map[cancelKey]cancelTarget{}} }

// add registers t under its backend's pid and a new random secret and
// returns the key, which is what the client sees.
func (r *cancelRegistry) add(t cancelTarget) cancelKey {
	var b [4]byte
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		k := cancelKey{pid: t.pid, secret: binary.BigEndian.Uint32(b[:])}
		if _, taken := r.m[k]; !taken {
			r.m[k] = t
			return k
		}
	}
}

// addPooled registers a key for a client of the pooled endpoint: a
// random process id (the client has no backend of its own) and secret,
// whose target follows the backend the client runs on (set), none in
// between transactions.
func (r *cancelRegistry) addPooled() cancelKey {
	var b [8]byte
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		// Positive, like a process id, and past the usual pid_max so it
		// is not taken for one of a backend.
		pid := 1<<30 | binary.BigEndian.Uint32(b[:4])&(1<<30-1)
		k := cancelKey{pid: pid, secret: binary.BigEndian.Uint32(b[4:])}
		if _, taken := r.m[k]; !taken {
			r.m[k] = cancelTarget{}
			return k
		}
	}
}

// set points a registered key at another backend (the zero target: none).
func (r *cancelRegistry) set(k cancelKey, t cancelTarget) {
	r.mu.Lock()
	if _, ok := r.m[k]; ok {
		r.m[k] = t
	}
	r.mu.Unlock()
}

// secretBytes is the secret as BackendKeyData and CancelRequest carry it.
func (k cancelKey) secretBytes() []byte { return binary.BigEndian.AppendUint32(nil, k.secret) }

func (r *cancelRegistry) remove(k cancelKey) {
	r.mu.Lock()
	delete(r.m, k)
	r.mu.Unlock()
}

// forward sends the backend cancel request matching a client's, if any.
// Like PostgreSQL, it answers nothing either way.
func (r *cancelRegistry) forward(m *pgproto3.CancelRequest) {
	if len(m.SecretKey) != 4 {
		return
	}
	r.cancel(cancelKey{pid: m.ProcessID, secret: binary.BigEndian.Uint32(m.SecretKey)})
}

// cancel asks the backend registered under k to cancel its query.
func (r *cancelRegistry) cancel(k cancelKey) {
	r.mu.Lock()
	t, ok := r.m[k]
	r.mu.Unlock()
	if !ok || t.ep.Network == "" {
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
