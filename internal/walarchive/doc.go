// Package walarchive owns the point-in-time history of every database: the
// WAL segments its instance archives (durably: fsynced before
// archive_command reports success, never overwritten with other content),
// the base backups replay starts from, and the retention window that bounds
// both. It sits behind Store, a small storage interface whose first
// implementation is a local directory (archive/<id>/ of ARCHITECTURE §3) and
// whose next is an object store.
//
// It does not run instances: the instance package starts postgres, takes
// base backups with pg_basebackup and restores them; this package only
// stores, lists, chooses and prunes.
package walarchive
