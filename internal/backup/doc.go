// Package backup keeps a database's history restorable (ARCHITECTURE §6)
// on top of walarchive's store: the archiving settings of an instance,
// base backups taken with pg_basebackup (at low CPU priority), the
// schedule that decides when a database is due one, the retention window,
// and waiting until a WAL segment is archived.
//
// It knows one instance at a time by its socket and database id; which
// instances exist and run is the placement driver's business, and so is
// restoring (placement/local's restore pipeline reads what is kept here).
package backup
