package control

import (
	"sync"
	"time"
)

// ttlCache is a small read-through cache for the hot path of every API
// call (token → principal, id or name → database). Entries live at most
// ttl; writers in this process invalidate what they change at once, so
// the ttl only bounds staleness between several server processes sharing
// one catalog.
type ttlCache[K comparable, V any] struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, max: max, m: map[K]ttlEntry[V]{}}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v until the earlier of ttl and notAfter (zero: no bound).
func (c *ttlCache[K, V]) put(k K, v V, notAfter time.Time) {
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
	c.m[k] = ttlEntry[V]{v: v, exp: exp}
}

// removeIf drops every entry for which drop returns true.
func (c *ttlCache[K, V]) removeIf(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if drop(k, e.v) {
			delete(c.m, k)
		}
	}
}
