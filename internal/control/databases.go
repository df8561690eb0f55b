package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
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

// CreateDatabase provisions an instance and records the database. The
// instance is made first and the row written last, in one transaction with
// the quota check: a crash before the commit leaves only a directory
// without a row, which the next start removes; after the commit the
// database is complete. So a 201 always means a usable database.
func (s *Service) CreateDatabase(ctx context.Context, p Principal, req CreateDatabaseRequest) (CreatedDatabase, error) {
	if err := requireUnscoped(p); err != nil {
		return CreatedDatabase{}, err
	}
	if !platform.ValidDatabaseName(req.Name) {
		return CreatedDatabase{}, platform.Errorf(platform.CodeInvalid, "name: must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	region := req.Region
	if region == "" {
		region = s.cfg.Region
	}
	if region != s.cfg.Region {
		return CreatedDatabase{}, platform.Errorf(platform.CodeInvalid, "region: unknown region %q (this server offers %q)", region, s.cfg.Region)
	}
	if req.AdminPassword != "" {
		if err := validPassword(req.AdminPassword); err != nil {
			return CreatedDatabase{}, err
		}
	}
	live, taken, err := s.cat.CreateChecks(ctx, p.Customer.ID, req.Name)
	if err != nil {
		return CreatedDatabase{}, err
	}
	limit := 0
	if p.Customer.IsAnonymous {
		limit = s.cfg.AnonymousDBLimit
		if live >= limit {
			return CreatedDatabase{}, s.quotaError()
		}
	}
	if taken {
		return CreatedDatabase{}, platform.Errorf(platform.CodeConflict, "a database named %q already exists", req.Name)
	}

	prov, err := s.place.Provision(ctx)
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
	row, err := s.cat.InsertDatabase(ctx, catalog.DatabaseRow{
		Database: platform.Database{
			ID: prov.ID(), CustomerID: p.Customer.ID, Name: req.Name, State: platform.StateActive, Region: region,
		},
		AdminPasswordEnc: s.sealer.Seal(password),
	}, limit)
	if err != nil {
		prov.Abort()
		switch {
		case errors.Is(err, catalog.ErrNameTaken):
			return CreatedDatabase{}, platform.Errorf(platform.CodeConflict, "a database named %q already exists", req.Name)
		case errors.Is(err, catalog.ErrQuota):
			return CreatedDatabase{}, s.quotaError()
		}
		return CreatedDatabase{}, fmt.Errorf("record database: %w", err)
	}
	prov.Commit()
	s.log.Info("database created", "component", "control", "db", row.ID, "customer", p.Customer.ID)
	return CreatedDatabase{Database: row.Database, Credentials: s.credentials(row.ID, password)}, nil
}

func (s *Service) quotaError() error {
	return platform.Errorf(platform.CodeQuotaExceeded, "anonymous account limit (%d databases)", s.cfg.AnonymousDBLimit)
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

func (s *Service) credentials(id, password string) Credentials {
	return Credentials{AdminUser: placement.AdminRole, AdminPassword: password, ConnectionString: s.ConnectionString(id, placement.AdminRole, password),
		PooledConnectionString: s.PooledConnectionString(id, placement.AdminRole, password)}
}

// GetDatabase returns a customer's database by id or name. Other
// customers' databases are reported as not found.
func (s *Service) GetDatabase(ctx context.Context, p Principal, idOrName string) (platform.Database, error) {
	row, err := s.lookup(ctx, p, idOrName)
	return row.Database, err
}

func (s *Service) lookup(ctx context.Context, p Principal, idOrName string) (catalog.DatabaseRow, error) {
	if !platform.ValidDatabaseName(idOrName) {
		return catalog.DatabaseRow{}, platform.NotFound("database")
	}
	key := dbKey{p.Customer.ID, idOrName}
	row, ok := s.dbs.get(key)
	if !ok {
		var err error
		row, err = s.cat.GetDatabase(ctx, p.Customer.ID, idOrName)
		if errors.Is(err, catalog.ErrNotFound) {
			return catalog.DatabaseRow{}, platform.NotFound("database")
		}
		if err != nil {
			return row, err
		}
		s.dbs.put(key, row, time.Time{})
	}
	// A scoped token sees only its databases; the others answer exactly
	// like databases that do not exist.
	if p.Scope.access(row.ID) == "" {
		return catalog.DatabaseRow{}, platform.NotFound("database")
	}
	return row, nil
}

// forgetDatabase drops cached lookups of a database whose row changed.
func (s *Service) forgetDatabase(id string) {
	s.dbs.removeIf(func(_ dbKey, r catalog.DatabaseRow) bool { return r.ID == id })
}

// ListDatabases lists a customer's databases, newest first.
func (s *Service) ListDatabases(ctx context.Context, p Principal, all bool) ([]platform.Database, error) {
	rows, err := s.cat.ListDatabases(ctx, p.Customer.ID, all)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Database, 0, len(rows))
	for _, r := range rows {
		if p.Scope.access(r.ID) != "" {
			out = append(out, r.Database)
		}
	}
	return out, nil
}

// DeleteDatabase ends the database's sessions and removes its instance and
// files. The row goes to DISABLING first (only one concurrent caller wins),
// then to DISABLED once the files are gone; a crash in between is finished
// at the next start.
func (s *Service) DeleteDatabase(ctx context.Context, p Principal, idOrName string) error {
	if err := requireUnscoped(p); err != nil {
		return err
	}
	row, err := s.lookup(ctx, p, idOrName)
	if err != nil {
		return err
	}
	s.forgetDatabase(row.ID)
	if err := s.cat.BeginDelete(ctx, p.Customer.ID, row.ID); errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound("database")
	} else if err != nil {
		return err
	}
	for _, f := range s.onDelete {
		f(row.ID)
	}
	// The removal must finish even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	if err := s.place.Destroy(ctx, row.ID); err != nil {
		return fmt.Errorf("destroy instance %s: %w", row.ID, err)
	}
	s.types.Delete(row.ID)
	if err := s.cat.FinishDelete(ctx, row.ID); err != nil {
		return err
	}
	s.log.Info("database deleted", "component", "control", "db", row.ID, "customer", p.Customer.ID)
	return nil
}

// OnDatabaseDeleted registers f to run once a database is marked for
// deletion, so that other use cases' caches (data plane keys) drop it at
// once. Register before serving; f must not block.
func (s *Service) OnDatabaseDeleted(f func(id string)) { s.onDelete = append(s.onDelete, f) }

// Credentials returns the admin credentials of a database.
func (s *Service) Credentials(ctx context.Context, p Principal, idOrName string) (Credentials, error) {
	row, err := s.activeLookup(ctx, p, idOrName)
	if err != nil {
		return Credentials{}, err
	}
	// The admin password is write access: a read-only token must not get it.
	if err := requireWrite(p, row.ID); err != nil {
		return Credentials{}, err
	}
	if row.AdminPasswordEnc == nil {
		return Credentials{}, platform.Errorf(platform.CodeConflict, "database has no stored admin password")
	}
	pw, err := s.sealer.Open(row.AdminPasswordEnc)
	if err != nil {
		return Credentials{}, err
	}
	return s.credentials(row.ID, pw), nil
}

func (s *Service) activeLookup(ctx context.Context, p Principal, idOrName string) (catalog.DatabaseRow, error) {
	row, err := s.lookup(ctx, p, idOrName)
	if err != nil {
		return row, err
	}
	if row.State != platform.StateActive {
		return row, platform.Errorf(platform.CodeConflict, "database is %s, not ACTIVE", row.State)
	}
	return row, nil
}

// ResetPassword gives the admin role a new random password; the old one
// stops working at once.
func (s *Service) ResetPassword(ctx context.Context, p Principal, idOrName string) (Credentials, error) {
	row, err := s.activeLookup(ctx, p, idOrName)
	if err != nil {
		return Credentials{}, err
	}
	if err := requireWrite(p, row.ID); err != nil {
		return Credentials{}, err
	}
	lease, err := s.acquire(ctx, row.ID)
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
	if err := postgres.SetRolePassword(ctx, conn, placement.AdminRole, password); err != nil {
		return Credentials{}, err
	}
	err = s.cat.SetAdminPassword(ctx, row.ID, s.sealer.Seal(password))
	s.forgetDatabase(row.ID)
	if err != nil {
		return Credentials{}, err
	}
	return s.credentials(row.ID, password), nil
}

// acquire holds the instance running, mapping instance errors to public ones.
func (s *Service) acquire(ctx context.Context, id string) (placement.Lease, error) {
	start := time.Now()
	lease, err := s.place.Acquire(ctx, id)
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
		s.log.Debug("acquired instance", "component", "control", "db", id, "ms", d.Milliseconds())
	}
	return lease, nil
}
