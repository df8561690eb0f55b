// Package postgres runs ONE PostgreSQL cluster: initdb, a start of
// `postgres` itself (not pg_ctl) on a Unix socket only, readiness polling,
// stop (SIGINT, then SIGQUIT, then SIGKILL of the process group), the
// removal of a stale postmaster left by an earlier life of the server, and
// the "recipe" every tenant instance is made from (settings, roles, the
// golden data directory's build).
//
// It knows nothing of databases, pools of instances, archives or
// customers: the local placement driver supervises many clusters with it,
// the catalog runs its own cluster with it, and tests run throwaway ones.
package postgres
