package ttlcache

import (
	"sync"
	"time"
)

// Cache is a small read-through cache for the hot path of every API call
// (token → principal, id or name → database). Entries live at most ttl;
// writers in this process invalidate what they change at once, so the ttl
// only bounds staleness between several server processes sharing one
// catalog. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[K]entry[V]
}

type entry[V any] struct {
	v   V
	exp time.Time
}

// New returns a cache whose entries live at most ttl, holding at most max
// of them (past that, expired entries go, and if none had, all of them).
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, m: map[K]entry[V]{}}
}

// Get returns the live entry of k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v until the earlier of ttl and notAfter (zero: no bound).
func (c *Cache[K, V]) Put(k K, v V, notAfter time.Time) {
	exp := time.Now().Add(c.ttl)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, replace := c.m[k]; !replace && len(c.m) >= c.max {
		now := time.Now()
		for k, e := range c.m {
			if now.After(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = entry[V]{v: v, exp: exp}
}

// RemoveIf drops every entry for which drop returns true.
func (c *Cache[K, V]) RemoveIf(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if drop(k, e.v) {
			delete(c.m, k)
		}
	}
}
