package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// directory finds a caller's databases in the catalog, through a cache on
// the hot path of every API call. Every use case that changes a database's
// row drops it here (forget), so the change applies to the next request of
// this process; other processes sharing the catalog see it within cacheTTL.
type directory struct {
	cat *catalog.Catalog
	dbs *ttlCache[dbKey, catalog.DatabaseRow] // (customer, id or name) -> database
}

type dbKey struct{ customer, idOrName string }

func newDirectory(cat *catalog.Catalog) *directory {
	return &directory{cat: cat, dbs: newTTLCache[dbKey, catalog.DatabaseRow](cacheTTL, 100_000)}
}

// lookup resolves a caller's database by id or name. Another customer's
// database, or one outside a scoped token's scope, is not found.
func (d *directory) lookup(ctx context.Context, p Principal, idOrName string) (catalog.DatabaseRow, error) {
	if !platform.ValidDatabaseName(idOrName) {
		return catalog.DatabaseRow{}, platform.NotFound("database")
	}
	key := dbKey{p.Customer.ID, idOrName}
	row, ok := d.dbs.get(key)
	if !ok {
		var err error
		row, err = d.cat.Databases.Get(ctx, p.Customer.ID, idOrName)
		if errors.Is(err, catalog.ErrNotFound) {
			return catalog.DatabaseRow{}, platform.NotFound("database")
		}
		if err != nil {
			return row, err
		}
		d.dbs.put(key, row, time.Time{})
	}
	// A scoped token sees only its databases; the others answer exactly
	// like databases that do not exist.
	if p.Scope.access(row.ID) == "" {
		return catalog.DatabaseRow{}, platform.NotFound("database")
	}
	return row, nil
}

// activeLookup is lookup of a database that must be ACTIVE.
func (d *directory) activeLookup(ctx context.Context, p Principal, idOrName string) (catalog.DatabaseRow, error) {
	row, err := d.lookup(ctx, p, idOrName)
	if err != nil {
		return row, err
	}
	if row.State != platform.StateActive {
		return row, platform.Errorf(platform.CodeConflict, "database is %s, not ACTIVE", row.State)
	}
	return row, nil
}

// forget drops cached lookups of the databases whose rows changed.
func (d *directory) forget(ids ...string) {
	d.dbs.removeIf(func(_ dbKey, r catalog.DatabaseRow) bool {
		for _, id := range ids {
			if r.ID == id {
				return true
			}
		}
		return false
	})
}

// instances gives the use cases running databases, with the placement
// driver's errors turned into public ones.
type instances struct {
	place placement.Connector
	log   *slog.Logger
}

// acquire holds the instance running.
func (in *instances) acquire(ctx context.Context, id string) (placement.Lease, error) {
	start := time.Now()
	lease, err := in.place.Acquire(ctx, id)
	switch {
	case errors.Is(err, placement.ErrNotFound):
		return nil, platform.NotFound("database")
	case errors.Is(err, placement.ErrClosed):
		return nil, platform.Errorf(platform.CodeUnavailable, "server is shutting down")
	case err != nil:
		if ctx.Err() != nil {
			return nil, platform.Wrap(platform.CodeUnavailable, err, "request cancelled while the database was starting")
		}
		return nil, platform.Wrap(platform.CodeUnavailable, err, "database could not be started; try again")
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		in.log.Debug("acquired instance", logkey.DB, id, logkey.Ms, d.Milliseconds())
	}
	return lease, nil
}

// AdminUser is the tenant's owner role of every database: the user of its
// credentials and the default role of connect tokens and keys.
const AdminUser = placement.AdminRole

// frontDoor is where clients reach the PostgreSQL front door and its
// pooled endpoint.
type frontDoor struct {
	host string
	port int
	// pooledPort is the pooled endpoint's port; 0: none.
	pooledPort int
}

// connectionString renders the connection string of a database, with the
// password when given.
func (f frontDoor) connectionString(id, role, password string) string {
	return renderConnectionString(f.host, f.port, id, role, password)
}

// pooledConnectionString is connectionString at the pooled endpoint
// (transaction pooling, same user and password); "" when there is none.
func (f frontDoor) pooledConnectionString(id, role, password string) string {
	if f.pooledPort == 0 {
		return ""
	}
	return renderConnectionString(f.host, f.pooledPort, id, role, password)
}

func renderConnectionString(host string, port int, id, role, password string) string {
	u := url.URL{Scheme: "postgresql", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/postgres"}
	if password != "" {
		u.User = url.UserPassword(id+"."+role, password)
	} else {
		u.User = url.User(id + "." + role)
	}
	return u.String()
}

// quota is the database quota of anonymous accounts.
type quota struct{ anonymousLimit int }

// limit is the caller's database limit for the catalog (0: none).
func (q quota) limit(p Principal) int {
	if p.Customer.IsAnonymous {
		return q.anonymousLimit
	}
	return 0
}

func (q quota) err() error {
	return platform.Errorf(platform.CodeQuotaExceeded, "anonymous account limit (%d databases)", q.anonymousLimit)
}
