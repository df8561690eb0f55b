package wire

import (
	"io"
	"sync"
)

// Registry is what the proxy has open: the client and backend connections
// and loop sessions Close must end, and each database's backend sessions
// counted against Config.MaxConnsPerDB. Once closed it takes nothing new.
type Registry struct {
	max int

	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	perDB  map[string]int
	closed bool
}

// NewRegistry returns a registry that counts at most maxPerDB backend
// sessions of each database.
func NewRegistry(maxPerDB int) *Registry {
	return &Registry{max: maxPerDB, conns: map[io.Closer]struct{}{}, perDB: map[string]int{}}
}

// Track registers a connection for CloseAll; false once closed.
func (r *Registry) Track(c io.Closer) bool { return r.TrackServing(c, nil) }

// TrackServing is Track that also adds one to wg under the lock CloseAll
// takes before the proxy waits on wg, so no Add comes after the Wait.
func (r *Registry) TrackServing(c io.Closer, wg *sync.WaitGroup) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	if wg != nil {
		wg.Add(1)
	}
	return true
}

// Untrack forgets a connection (it was closed).
func (r *Registry) Untrack(c io.Closer) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// TakeSlot counts a session of database id against the limit.
func (r *Registry) TakeSlot(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perDB[id] >= r.max {
		return false
	}
	r.perDB[id]++
	return true
}

// FreeSlot gives back a slot TakeSlot took.
func (r *Registry) FreeSlot(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perDB[id]--; r.perDB[id] <= 0 {
		delete(r.perDB, id)
	}
}

// Sessions is the number of sessions of a database.
func (r *Registry) Sessions(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.perDB[id]
}

// CloseAll marks the registry closed, runs before (the proxy's cancel of
// logins in flight) and closes every connection, all under the lock; it
// reports false when it was closed already.
func (r *Registry) CloseAll(before func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.closed = true
	before()
	for c := range r.conns {
		c.Close()
	}
	return true
}

// IsClosed reports whether CloseAll was called.
func (r *Registry) IsClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
