package dataapi

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/dataapi/schema"
)

// schemaCache holds one loaded schema per database. A load is shared by
// the requests waiting for it; a stale entry is replaced by the next load.
type schemaCache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	done chan struct{}
	s    *schema.Schema
	err  error
}

func newSchemaCache() *schemaCache { return &schemaCache{entries: map[string]*cacheEntry{}} }

// get returns the cached schema of db, loading it over conn when missing.
func (c *schemaCache) get(ctx context.Context, db string, conn *pgconn.PgConn) (*schema.Schema, error) {
	c.mu.Lock()
	e := c.entries[db]
	if e != nil {
		select {
		case <-e.done:
			// Read while DDL was in flight: good for the request that
			// loaded it only.
			if e.s != nil && e.s.Version == schema.Unversioned {
				e = nil
			}
		default:
		}
	}
	if e == nil {
		e = &cacheEntry{done: make(chan struct{})}
		c.entries[db] = e
		c.mu.Unlock()
		e.s, e.err = schema.Load(ctx, conn)
		close(e.done)
		if e.err != nil {
			c.mu.Lock()
			if c.entries[db] == e {
				delete(c.entries, db)
			}
			c.mu.Unlock()
		}
		return e.s, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.s, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// invalidate drops db's entry if it is still the schema s (so concurrent
// requests that saw the same stale schema reload it once).
func (c *schemaCache) invalidate(db string, s *schema.Schema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[db]; e != nil {
		select {
		case <-e.done:
			if e.s == s {
				delete(c.entries, db)
			}
		default:
		}
	}
}

// Forget drops the cached schema of db (e.g. when the database is deleted).
func (h *Handler) Forget(db string) {
	h.cache.mu.Lock()
	delete(h.cache.entries, db)
	h.cache.mu.Unlock()
}
