package tenancy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/ttlcache"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// CacheTTL bounds how long a cached token or database lookup is trusted:
// the staleness between server processes sharing one catalog.
const CacheTTL = 5 * time.Second

// Directory finds a caller's databases in the catalog, through a cache on
// the hot path of every API call. Every use case that changes a database's
// row drops it here (Forget), so the change applies to the next request of
// this process; other processes sharing the catalog see it within CacheTTL.
type Directory struct {
	cat *catalog.Catalog
	dbs *ttlcache.Cache[dbKey, catalog.DatabaseRow] // (customer, id or name) -> database
}

type dbKey struct{ customer, idOrName string }

// NewDirectory returns the directory of the catalog's databases.
func NewDirectory(cat *catalog.Catalog) *Directory {
	return &Directory{cat: cat, dbs: ttlcache.New[dbKey, catalog.DatabaseRow](CacheTTL, 100_000)}
}

// Lookup resolves a caller's database by id or name. Another customer's
// database, or one outside a scoped token's scope, is not found.
func (d *Directory) Lookup(ctx context.Context, p Principal, idOrName string) (catalog.DatabaseRow, error) {
	if !platform.ValidDatabaseName(idOrName) {
		return catalog.DatabaseRow{}, platform.NotFound("database")
	}
	key := dbKey{p.Customer.ID, idOrName}
	row, ok := d.dbs.Get(key)
	if !ok {
		var err error
		row, err = d.cat.Databases.Get(ctx, p.Customer.ID, idOrName)
		if errors.Is(err, catalog.ErrNotFound) {
			return catalog.DatabaseRow{}, platform.NotFound("database")
		}
		if err != nil {
			return row, err
		}
		d.dbs.Put(key, row, time.Time{})
	}
	// A scoped token sees only its databases; the others answer exactly
	// like databases that do not exist.
	if p.Scope.Access(row.ID) == "" {
		return catalog.DatabaseRow{}, platform.NotFound("database")
	}
	return row, nil
}

// ActiveLookup is Lookup of a database that must be ACTIVE.
func (d *Directory) ActiveLookup(ctx context.Context, p Principal, idOrName string) (catalog.DatabaseRow, error) {
	row, err := d.Lookup(ctx, p, idOrName)
	if err != nil {
		return row, err
	}
	if row.State != platform.StateActive {
		return row, platform.Errorf(platform.CodeConflict, "database is %s, not ACTIVE", row.State)
	}
	return row, nil
}

// Forget drops cached lookups of the databases whose rows changed.
func (d *Directory) Forget(ids ...string) {
	d.dbs.RemoveIf(func(_ dbKey, r catalog.DatabaseRow) bool {
		for _, id := range ids {
			if r.ID == id {
				return true
			}
		}
		return false
	})
}

// Instances gives the use cases running databases, with the placement
// driver's errors turned into public ones.
type Instances struct {
	place placement.Connector
	log   *slog.Logger
}

// NewInstances returns the running databases of place; log gets slow
// starts.
func NewInstances(place placement.Connector, log *slog.Logger) *Instances {
	return &Instances{place: place, log: log}
}

// Acquire holds the instance running; release the lease when done.
func (in *Instances) Acquire(ctx context.Context, id string) (placement.Lease, error) {
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

// FrontDoor is where clients reach the PostgreSQL front door and its
// pooled endpoint.
type FrontDoor struct {
	Host string
	Port int
	// PooledPort is the pooled endpoint's port; 0: none.
	PooledPort int
}

// ConnectionString renders the connection string of a database, with the
// password when given.
func (f FrontDoor) ConnectionString(id, role, password string) string {
	return renderConnectionString(f.Host, f.Port, id, role, password)
}

// PooledConnectionString is ConnectionString at the pooled endpoint
// (transaction pooling, same user and password); "" when there is none.
func (f FrontDoor) PooledConnectionString(id, role, password string) string {
	if f.PooledPort == 0 {
		return ""
	}
	return renderConnectionString(f.Host, f.PooledPort, id, role, password)
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

// Quota is the database quota of anonymous accounts.
type Quota struct{ AnonymousLimit int }

// Limit is the caller's database limit for the catalog (0: none).
func (q Quota) Limit(p Principal) int {
	if p.Customer.IsAnonymous {
		return q.AnonymousLimit
	}
	return 0
}

// Err is the error of a create over the quota.
func (q Quota) Err() error {
	return platform.Errorf(platform.CodeQuotaExceeded, "anonymous account limit (%d databases)", q.AnonymousLimit)
}
