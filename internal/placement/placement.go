package placement

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/postgres"
)

// ErrNotFound reports a database the driver has no instance of (or is
// removing).
var ErrNotFound = errors.New("instance not found")

// ErrClosed reports a call after the driver was closed.
var ErrClosed = errors.New("placement driver closed")

// ErrNoArchive reports a point-in-time operation on a driver without WAL
// archiving.
var ErrNoArchive = errors.New("WAL archiving is not configured")

// The roles every instance has (made by the golden recipe).
const (
	// Superuser is the platform's own superuser. Sessions as it carry
	// options that override whatever the tenant set per database.
	Superuser = postgres.Superuser
	// AdminRole is the tenant's owner role: owns database postgres and
	// schema public, BYPASSRLS, neither SUPERUSER nor CREATEROLE.
	AdminRole = postgres.AdminRole
	// ReadOnlyRole is the role SQL runs as for read-only API tokens.
	ReadOnlyRole = postgres.ReadOnlyRole
)

// Endpoint is where a running database accepts PostgreSQL connections.
type Endpoint struct {
	Network string // "unix" or "tcp"
	Address string // the socket file's path, or host:port
}

// Dial opens a raw connection to the endpoint (for the wire proxy, which
// speaks the protocol itself).
func (e Endpoint) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, e.Network, e.Address)
}

// HostPort is the endpoint as libpq's host and port (for PostgreSQL's own
// client programs): for a Unix socket, its directory and the number its
// file is named after.
func (e Endpoint) HostPort() (host, port string) {
	if e.Network == "unix" {
		dir, file := filepath.Split(e.Address)
		return filepath.Clean(dir), file[strings.LastIndexByte(file, '.')+1:]
	}
	host, port, _ = net.SplitHostPort(e.Address)
	return host, port
}

// Lease holds a database running until Release. It is safe for
// concurrent use; Release is idempotent.
type Lease interface {
	// ID is the database id.
	ID() string
	// Endpoint is where the instance accepts connections.
	Endpoint() Endpoint
	// Pool is the shared pgx pool into the instance as role (created on
	// first use, closed when the instance stops). Connections are NOT
	// reset on release: code that runs tenant SQL on them starts with a
	// reset. The pool of Superuser is small and for short, read-only
	// platform queries that leave no session state.
	Pool(role string) (*pgxpool.Pool, error)
	// Connect opens a new connection as role; the caller closes it.
	Connect(ctx context.Context, role string) (*pgconn.PgConn, error)
	// Release ends the lease; the idle clock starts when the last one ends.
	Release()
}

// Connector gives running databases to those who serve them.
type Connector interface {
	// Acquire starts the database's instance if it is stopped (waiting
	// until it accepts connections) and holds it running until the lease
	// is released. ErrNotFound, ErrClosed.
	Acquire(ctx context.Context, id string) (Lease, error)
	// Running reports whether the instance runs now, without waking it.
	Running(id string) bool
	// Peek holds a running instance without waking a stopped one and
	// without restarting its idle clock (for platform reads, such as the
	// scheduler's, that must not keep a database awake); ok is false when
	// it is not running. Release the lease as any other.
	Peek(id string) (l Lease, ok bool)
	// BeforeIdleStop registers hook, called with a lease on an instance
	// that is about to be stopped for idleness (to read its statistics
	// once more). Its lease does not restart the idle clock. The stop
	// waits for every hook; a hook must return within ctx.
	BeforeIdleStop(hook func(ctx context.Context, db Lease))
}

// Provisioned is a new running instance under a new database id, not yet
// a database: the caller Commits it once the database is recorded, or
// Aborts it. Until Commit a restart of the server removes it.
type Provisioned interface {
	ID() string
	// AdminPassword is the admin role's password, set in the instance
	// as a SCRAM verifier.
	AdminPassword() string
	// SetAdminPassword replaces the admin password with one the customer chose.
	SetAdminPassword(ctx context.Context, password string) error
	// Commit makes it an ordinary instance: leasable, stopped when idle.
	Commit()
	// Abort stops and removes it.
	Abort()
}

// RestoreTarget says what a restore replays: the history of database
// Source up to and including the transactions committed at Time.
type RestoreTarget struct {
	Source string
	Time   time.Time
	// AdminPassword is set on the restored instance's admin role
	// (random when empty).
	AdminPassword string
}

// Provisioner makes, stops and removes instances: control's side.
type Provisioner interface {
	// Open reconciles the driver with the databases that exist (keep):
	// whatever instance is not in keep is removed. It returns the ids in
	// keep that have no instance.
	Open(ctx context.Context, keep map[string]bool) (missing []string, err error)
	// Provision returns a new running instance under a fresh id.
	Provision(ctx context.Context) (Provisioned, error)
	// Restore makes instance id from Source's history as of Time (a
	// branch), waking Source first if needed to archive through Time. A
	// Source that is gone gives an error wrapping ErrNotFound.
	Restore(ctx context.Context, id string, t RestoreTarget) (Provisioned, error)
	// EarliestRestorable is the earliest moment a database's history can
	// be restored to (zero when there is none).
	EarliestRestorable(ctx context.Context, id string) (time.Time, error)
	// Stop stops an instance now, as for idleness, unless a lease holds
	// it; it reports whether it stopped it. The next Acquire starts it.
	Stop(id string) bool
	// Destroy ends every session of the instance, stops it and removes
	// it and its history. Destroying an unknown id is not an error.
	Destroy(ctx context.Context, id string) error
	// Close stops every instance.
	Close(ctx context.Context) error
}

// Driver is a placement of databases: the one interface control holds.
type Driver interface {
	Connector
	Provisioner
}
