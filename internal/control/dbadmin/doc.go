// Package dbadmin holds the use cases that work inside a customer's
// database on the customer's behalf (SQL): SQL over HTTP, the schema,
// dumps (pg_dump), users (login roles) and migrations, with the platform
// schema _db9 they keep their records in (PlatformSQL), made on first use.
//
// It reaches a database through tenancy's Directory and Instances and
// runs as the database's admin role, the read-only role, or the platform
// superuser for what the tenant's own roles may not do; it never changes
// the catalog. control.Service builds it.
package dbadmin
