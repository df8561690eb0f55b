package wire

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/placement"
)

// CancelTarget is where a session's cancel requests go: its backend's
// endpoint and the backend's own key, whose secret the client never learns.
type CancelTarget struct {
	EP     placement.Endpoint
	PID    uint32
	Secret []byte
}

// CancelKey is the key a client holds: its backend's real process id (so
// the driver's pid, pg_backend_pid() and pg_stat_activity agree, and
// pg_terminate_backend of it works) and a random secret of the proxy's own.
type CancelKey struct {
	PID, Secret uint32
}

// CancelRegistry maps the keys the proxy gave its clients to backends. A
// CancelRequest is forwarded only on an exact match of pid and secret, so
// a client can cancel its own session's query and no other. The map is
// keyed by both halves: process ids of different instances may be equal
// (instances on other hosts, in other pid namespaces), and the pair stays
// unique because Add draws the secret until it is.
type CancelRegistry struct {
	mu sync.Mutex
	m  map[CancelKey]CancelTarget
}

// NewCancelRegistry returns an empty registry.
func NewCancelRegistry() *CancelRegistry { return &CancelRegistry{m: map[CancelKey]CancelTarget{}} }

// Add registers t under its backend's pid and a new random secret and
// returns the key, which is what the client sees.
func (r *CancelRegistry) Add(t CancelTarget) CancelKey {
	var b [4]byte
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		k := CancelKey{PID: t.PID, Secret: binary.BigEndian.Uint32(b[:])}
		if _, taken := r.m[k]; !taken {
			r.m[k] = t
			return k
		}
	}
}

// AddPooled registers a key for a client of the pooled endpoint: a
// random process id (the client has no backend of its own) and secret,
// whose target follows the backend the client runs on (Set), none in
// between transactions.
func (r *CancelRegistry) AddPooled() CancelKey {
	var b [8]byte
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		_, _ = rand.Read(b[:])
		// Positive, like a process id, and past the usual pid_max so it
		// is not taken for one of a backend.
		pid := 1<<30 | binary.BigEndian.Uint32(b[:4])&(1<<30-1)
		k := CancelKey{PID: pid, Secret: binary.BigEndian.Uint32(b[4:])}
		if _, taken := r.m[k]; !taken {
			r.m[k] = CancelTarget{}
			return k
		}
	}
}

// Set points a registered key at another backend (the zero target: none).
func (r *CancelRegistry) Set(k CancelKey, t CancelTarget) {
	r.mu.Lock()
	if _, ok := r.m[k]; ok {
		r.m[k] = t
	}
	r.mu.Unlock()
}

// SecretBytes is the secret as BackendKeyData and CancelRequest carry it.
func (k CancelKey) SecretBytes() []byte { return binary.BigEndian.AppendUint32(nil, k.Secret) }

// Remove forgets a key (its session ended).
func (r *CancelRegistry) Remove(k CancelKey) {
	r.mu.Lock()
	delete(r.m, k)
	r.mu.Unlock()
}

// Forward sends the backend cancel request matching a client's, if any.
// Like PostgreSQL, it answers nothing either way.
func (r *CancelRegistry) Forward(m *pgproto3.CancelRequest) {
	if len(m.SecretKey) != 4 {
		return
	}
	r.Cancel(CancelKey{PID: m.ProcessID, Secret: binary.BigEndian.Uint32(m.SecretKey)})
}

// Cancel asks the backend registered under k to cancel its query.
func (r *CancelRegistry) Cancel(k CancelKey) {
	r.mu.Lock()
	t, ok := r.m[k]
	r.mu.Unlock()
	if !ok || t.EP.Network == "" {
		return
	}
	c, err := net.DialTimeout(t.EP.Network, t.EP.Address, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := (&pgproto3.CancelRequest{ProcessID: t.PID, SecretKey: t.Secret}).Encode(nil)
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
