package functions

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/control/ttlcache"
	"github.com/db9/db9/internal/platform"
)

// fnKey names a function as an invoke does: database and id or name.
type fnKey struct{ db, ref string }

// fnCache is the cache of what invokes resolve: a function with its
// active version, without the script (a warm worker has it; a worker
// being started reads it by version id, LoadScript). Entries live at most
// tenancy.CacheTTL, like the database lookups before them: a deploy,
// update or delete through this server drops the function's entries at
// once (forgetFunction), so the next invoke here runs the new version;
// another server sharing the catalog runs the previous version for at
// most CacheTTL after the change. A deleted function's stale entry fails
// its run's insert (the function's row is gone): the entry is dropped and
// the invoke answers 404 — after the handler ran once for a run without
// an idempotency key, whose run is inserted when it ends (ADR 0007); an
// invoke with a key resolves once more before it runs.
type fnCache struct {
	cat     *catalog.Catalog
	entries *ttlcache.Cache[fnKey, catalog.Function]
	gen     atomic.Uint64 // forgets so far
}

func newFnCache(cat *catalog.Catalog) *fnCache {
	return &fnCache{cat: cat, entries: ttlcache.New[fnKey, catalog.Function](tenancy.CacheTTL, 10_000)}
}

// active resolves fnRef of database dbID for an invoke, through the
// cache. Active.Script is "".
func (c *fnCache) active(ctx context.Context, dbID, fnRef string) (catalog.Function, error) {
	k := fnKey{dbID, fnRef}
	if fn, ok := c.entries.Get(k); ok {
		return fn, nil
	}
	gen := c.gen.Load()
	fn, err := c.cat.Functions.GetHeader(ctx, dbID, fnRef)
	if errors.Is(err, catalog.ErrNotFound) {
		return fn, platform.NotFound("function")
	}
	if err != nil {
		return fn, err
	}
	// A change through this server while the row was read may have been
	// dropped from the cache already: what was read is not cached then.
	if c.gen.Load() == gen {
		c.entries.Put(k, fn, time.Time{})
	}
	return fn, nil
}

// forget drops the cached entries of function id (by id and by name)
// after this server changed or deleted it.
func (c *fnCache) forget(id string) {
	c.gen.Add(1)
	c.entries.RemoveIf(func(_ fnKey, fn catalog.Function) bool { return fn.ID == id })
}

// forgetDatabase drops the cached functions of database dbID.
func (c *fnCache) forgetDatabase(dbID string) {
	c.gen.Add(1)
	c.entries.RemoveIf(func(k fnKey, _ catalog.Function) bool { return k.db == dbID })
}

// scriptLoader reads a version's script when a worker must be started.
func (c *fnCache) scriptLoader(versionID string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return c.cat.Functions.Script(ctx, versionID) }
}
