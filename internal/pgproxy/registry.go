package pgproxy

import (
	"io"
	"sync"
)

// registry is what the proxy has open: the client and backend connections
// and loop sessions Close must end, and each database's backend sessions
// counted against Config.MaxConnsPerDB. Once closed it takes nothing new.
type registry struct {
	max int

	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	perDB  map[string]int
	closed bool
}

func newRegistry(maxPerDB int) *registry {
	return &registry{max: maxPerDB, conns: map[io.Closer]struct{}{}, perDB: map[string]int{}}
}

// track registers a connection for Close; false once closed.
func (r *registry) track(c io.Closer) bool { return r.trackServing(c, nil) }

// trackServing is track that also adds one to wg under the lock close
// takes before the proxy waits on wg, so no Add comes after the Wait.
func (r *registry) trackServing(c io.Closer, wg *sync.WaitGroup) bool {
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

func (r *registry) untrack(c io.Closer) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// takeSlot counts a session of database id against the limit.
func (r *registry) takeSlot(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perDB[id] >= r.max {
		return false
	}
	r.perDB[id]++
	return true
}

func (r *registry) freeSlot(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perDB[id]--; r.perDB[id] <= 0 {
		delete(r.perDB, id)
	}
}

// sessions is the number of sessions of a database.
func (r *registry) sessions(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.perDB[id]
}

// close marks the registry closed, runs before (the proxy's cancel of
// logins in flight) and closes every connection, all under the lock; it
// reports false when it was closed already.
func (r *registry) close(before func()) bool {
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

func (r *registry) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
