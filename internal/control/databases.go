package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/postgres"
)

// Credentials are the admin login of a database.
type Credentials struct {
	AdminUser        string
	AdminPassword    string
	ConnectionString string
	// PooledConnectionString is the same login at the pooled endpoint
	// ("" when the server has none).
	PooledConnectionString string
}

// CreateDatabaseRequest is the input of CreateDatabase.
type CreateDatabaseRequest struct {
	Name          string
	Region        string
	AdminPassword string
}

// CreatedDatabase is a new database with its credentials.
type CreatedDatabase struct {
	platform.Database
	Credentials
}

// Databases holds the use cases of a database's life: create, get, list,
// delete, its admin credentials and password.
type Databases struct {
	region string
	cat    *catalog.Catalog
	place  placement.Provisioner
	sealer *auth.Sealer
	dir    *tenancy.Directory
	inst   *tenancy.Instances
	door   tenancy.FrontDoor
	quota  tenancy.Quota
	log    *slog.Logger
	// onDelete run when a database starts being deleted (OnDatabaseDeleted).
	onDelete []func(id string)
}

func newDatabases(region string, cat *catalog.Catalog, place placement.Provisioner, sealer *auth.Sealer,
	dir *tenancy.Directory, inst *tenancy.Instances, door tenancy.FrontDoor, q tenancy.Quota, log *slog.Logger) *Databases {
	return &Databases{region: region, cat: cat, place: place, sealer: sealer, dir: dir, inst: inst, door: door, quota: q, log: log}
}

// CreateDatabase provisions an instance and records the database. The
// instance is made first and the row written last, in one transaction with
// the quota check: a crash before the commit leaves only a directory
// without a row, which the next start removes; after the commit the
// database is complete. So a 201 always means a usable database.
func (d *Databases) CreateDatabase(ctx context.Context, p tenancy.Principal, req CreateDatabaseRequest) (CreatedDatabase, error) {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return CreatedDatabase{}, err
	}
	if !platform.ValidDatabaseName(req.Name) {
		return CreatedDatabase{}, platform.Errorf(platform.CodeInvalid, "name: must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	region := req.Region
	if region == "" {
		region = d.region
	}
	if region != d.region {
		return CreatedDatabase{}, platform.Errorf(platform.CodeInvalid, "region: unknown region %q (this server offers %q)", region, d.region)
	}
	if req.AdminPassword != "" {
		if err := validPassword(req.AdminPassword); err != nil {
			return CreatedDatabase{}, err
		}
	}
	live, taken, err := d.cat.Databases.CreateChecks(ctx, p.Customer.ID, req.Name)
	if err != nil {
		return CreatedDatabase{}, err
	}
	limit := d.quota.Limit(p)
	if p.Customer.IsAnonymous && live >= limit {
		return CreatedDatabase{}, d.quota.Err()
	}
	if taken {
		return CreatedDatabase{}, platform.Errorf(platform.CodeConflict, "a database named %q already exists", req.Name)
	}

	prov, err := d.place.Provision(ctx)
	if err != nil {
		return CreatedDatabase{}, platform.Wrap(platform.CodeUnavailable, err, "could not start a database instance; try again")
	}
	if req.AdminPassword != "" {
		if err := prov.SetAdminPassword(ctx, req.AdminPassword); err != nil {
			prov.Abort()
			return CreatedDatabase{}, fmt.Errorf("set admin password: %w", err)
		}
	}
	password := prov.AdminPassword()
	row, err := d.cat.Databases.Insert(ctx, catalog.DatabaseRow{
		Database: platform.Database{
			ID: prov.ID(), CustomerID: p.Customer.ID, Name: req.Name, State: platform.StateActive, Region: region,
		},
		AdminPasswordEnc: d.sealer.Seal(password),
	}, limit)
	if err != nil {
		prov.Abort()
		switch {
		case errors.Is(err, catalog.ErrNameTaken):
			return CreatedDatabase{}, platform.Errorf(platform.CodeConflict, "a database named %q already exists", req.Name)
		case errors.Is(err, catalog.ErrQuota):
			return CreatedDatabase{}, d.quota.Err()
		}
		return CreatedDatabase{}, fmt.Errorf("record database: %w", err)
	}
	prov.Commit()
	d.log.Info("database created", logkey.DB, row.ID, logkey.Customer, p.Customer.ID)
	return CreatedDatabase{Database: row.Database, Credentials: d.credentials(row.ID, password)}, nil
}

func validPassword(pw string) error {
	if len(pw) < 8 || len(pw) > 128 {
		return platform.Errorf(platform.CodeInvalid, "admin_password: must be 8 to 128 characters")
	}
	if !utf8.ValidString(pw) || strings.ContainsFunc(pw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return platform.Errorf(platform.CodeInvalid, "admin_password: must not contain control characters")
	}
	return nil
}

func (d *Databases) credentials(id, password string) Credentials {
	return Credentials{AdminUser: tenancy.AdminUser, AdminPassword: password, ConnectionString: d.door.ConnectionString(id, tenancy.AdminUser, password),
		PooledConnectionString: d.door.PooledConnectionString(id, tenancy.AdminUser, password)}
}

// GetDatabase returns a customer's database by id or name. Other
// customers' databases are reported as not found.
func (d *Databases) GetDatabase(ctx context.Context, p tenancy.Principal, idOrName string) (platform.Database, error) {
	row, err := d.dir.Lookup(ctx, p, idOrName)
	return row.Database, err
}

// ListDatabases lists a customer's databases, newest first.
func (d *Databases) ListDatabases(ctx context.Context, p tenancy.Principal, all bool) ([]platform.Database, error) {
	rows, err := d.cat.Databases.List(ctx, p.Customer.ID, all)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Database, 0, len(rows))
	for _, r := range rows {
		if p.Scope.Access(r.ID) != "" {
			out = append(out, r.Database)
		}
	}
	return out, nil
}

// DeleteDatabase ends the database's sessions and removes its instance and
// files. The row goes to DISABLING first (only one concurrent caller wins),
// then to DISABLED once the files are gone; a crash in between is finished
// at the next start.
func (d *Databases) DeleteDatabase(ctx context.Context, p tenancy.Principal, idOrName string) error {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return err
	}
	row, err := d.dir.Lookup(ctx, p, idOrName)
	if err != nil {
		return err
	}
	d.dir.Forget(row.ID)
	if err := d.cat.Databases.BeginDelete(ctx, p.Customer.ID, row.ID); errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound("database")
	} else if err != nil {
		return err
	}
	for _, f := range d.onDelete {
		f(row.ID)
	}
	// The removal must finish even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	if err := d.place.Destroy(ctx, row.ID); err != nil {
		return fmt.Errorf("destroy instance %s: %w", row.ID, err)
	}
	if err := d.cat.Databases.FinishDelete(ctx, row.ID); err != nil {
		return err
	}
	d.log.Info("database deleted", logkey.DB, row.ID, logkey.Customer, p.Customer.ID)
	return nil
}

// OnDatabaseDeleted registers f to run once a database is marked for
// deletion, so that other use cases' caches drop it at once. Register
// before serving; f must not block.
func (d *Databases) OnDatabaseDeleted(f func(id string)) { d.onDelete = append(d.onDelete, f) }

// ConnectionString renders the connection string of a database for role,
// with the password when given.
func (d *Databases) ConnectionString(id, role, password string) string {
	return d.door.ConnectionString(id, role, password)
}

// Host is where clients reach the PostgreSQL front door.
func (d *Databases) Host() string { return d.door.Host }

// Port is the public port of the PostgreSQL front door.
func (d *Databases) Port() int { return d.door.Port }

// Credentials returns the admin credentials of a database.
func (d *Databases) Credentials(ctx context.Context, p tenancy.Principal, idOrName string) (Credentials, error) {
	row, err := d.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return Credentials{}, err
	}
	// The admin password is write access: a read-only token must not get it.
	if err := tenancy.RequireWrite(p, row.ID); err != nil {
		return Credentials{}, err
	}
	if row.AdminPasswordEnc == nil {
		return Credentials{}, platform.Errorf(platform.CodeConflict, "database has no stored admin password")
	}
	pw, err := d.sealer.Open(row.AdminPasswordEnc)
	if err != nil {
		return Credentials{}, err
	}
	return d.credentials(row.ID, pw), nil
}

// ResetPassword gives the admin role a new random password; the old one
// stops working at once.
func (d *Databases) ResetPassword(ctx context.Context, p tenancy.Principal, idOrName string) (Credentials, error) {
	row, err := d.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return Credentials{}, err
	}
	if err := tenancy.RequireWrite(p, row.ID); err != nil {
		return Credentials{}, err
	}
	lease, err := d.inst.Acquire(ctx, row.ID)
	if err != nil {
		return Credentials{}, err
	}
	defer lease.Release()
	conn, err := lease.Connect(ctx, placement.Superuser)
	if err != nil {
		return Credentials{}, platform.Wrap(platform.CodeUnavailable, err, "database is unavailable; try again")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	password := auth.NewPassword()
	if err := postgres.SetRolePassword(ctx, conn, tenancy.AdminUser, password); err != nil {
		return Credentials{}, err
	}
	err = d.cat.Databases.SetAdminPassword(ctx, row.ID, d.sealer.Seal(password))
	d.dir.Forget(row.ID)
	if err != nil {
		return Credentials{}, err
	}
	return d.credentials(row.ID, password), nil
}
