package jwtverify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// reservedRoles may never be claimed by an end user's token: the
// database owner, the role of service keys (service access is by service
// key only, never by a JWT saying so, unlike Supabase), and PostgreSQL's
// bootstrap superuser.
var reservedRoles = map[string]bool{"admin": true, "service_role": true, "postgres": true}

// CheckRoleName refuses role names no token may claim, without asking the
// database: admin, service_role, postgres, _db9* and pg_* roles, and names
// PostgreSQL could not hold (empty, over 63 bytes, NUL).
func CheckRoleName(role string) error {
	switch {
	case role == "" || len(role) > 63 || strings.ContainsRune(role, 0):
		return fmt.Errorf("role %q is not a valid role name", role)
	case reservedRoles[role], strings.HasPrefix(role, "_db9"), strings.HasPrefix(role, "pg_"):
		return fmt.Errorf("role %q may not be used by end users", role)
	}
	return nil
}

// RowQuerier runs one query returning one row: *pgx.Conn, pgx.Tx and
// *pgxpool.Pool all fit.
type RowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrRoleRefused marks a role a token may not run as.
var ErrRoleRefused = errors.New("role refused")

// claimableRoleSQL is the condition that makes a role claimable, besides
// its name: no superuser, no BYPASSRLS (RLS is what guards end users'
// rows), no replication.
const claimableRoleSQL = `NOT rolsuper AND NOT rolbypassrls AND NOT rolreplication`

// CheckRole checks role against the database: it must exist and be
// claimable (see CheckRoleName; not superuser, BYPASSRLS or replication).
// Errors wrap ErrRoleRefused, or are the query's error.
func CheckRole(ctx context.Context, q RowQuerier, role string) error {
	if err := CheckRoleName(role); err != nil {
		return fmt.Errorf("%w: %v", ErrRoleRefused, err)
	}
	var ok bool
	err := q.QueryRow(ctx, `SELECT `+claimableRoleSQL+` FROM pg_catalog.pg_roles WHERE rolname = $1`, role).Scan(&ok)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: role %q does not exist", ErrRoleRefused, role)
	case err != nil:
		return fmt.Errorf("check role %q: %w", role, err)
	case !ok:
		return fmt.Errorf("%w: role %q is a superuser, BYPASSRLS or replication role", ErrRoleRefused, role)
	}
	return nil
}

// ClaimableRolesSQL lists the roles a token may claim in one query, for a
// per-database cache built with the schema cache.
const ClaimableRolesSQL = `SELECT rolname FROM pg_catalog.pg_roles WHERE ` + claimableRoleSQL +
	` AND rolname NOT IN ('admin', 'service_role', 'postgres') AND rolname NOT LIKE '\_db9%' AND rolname NOT LIKE 'pg\_%'`
