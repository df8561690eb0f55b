// Package dirtree copies directory trees the way PostgreSQL data
// directories need it: modes and (as root) ownership kept, the lock file of
// a running server left out. It is shared by instance provisioning, base
// backups and test helpers. It knows nothing of PostgreSQL otherwise.
package dirtree
