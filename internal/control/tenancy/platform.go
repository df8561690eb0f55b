package tenancy

import (
	"strings"

	"github.com/db9/db9/internal/placement"
)

// What inside a database belongs to the platform rather than the tenant.

// ReservedRole reports whether a role may never be logged into through the
// front door nor named in a connect token or key: the platform's own roles.
func ReservedRole(role string) bool {
	return strings.HasPrefix(role, "_db9") || role == placement.Superuser || strings.HasPrefix(role, "pg_")
}

// PlatformSchema is the schema inside every instance where the platform
// keeps what belongs to the database but not to the tenant: the migration
// history and the creation times of users. It is owned by the platform
// superuser; admin may read it and may add a migration record only through
// _db9.record_migration (SECURITY DEFINER), so the tenant cannot rewrite
// or delete history. Being inside the instance, branches carry it; dumps
// and the schema endpoint leave it out.
const PlatformSchema = "_db9"

// PlatformSchemas are the schemas of the platform in every instance (with
// every schema named _db9*, e.g. fs9's _db9_fs), left out of dumps and of
// the schema endpoint, and never exposed by a data key. It returns a new
// slice each time.
func PlatformSchemas() []string {
	return []string{"auth", "extensions", "cron", PlatformSchema}
}
