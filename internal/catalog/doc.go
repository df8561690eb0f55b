// Package catalog is the control plane's metadata store: customers, API
// tokens and databases, kept in PostgreSQL — by default a cluster this
// package manages under <data-dir>/catalog, or an external server given by
// a URL. Schema changes are the versioned SQL files in migrations/, embedded
// in the binary and applied at Open.
//
// It does not decide policy (quotas, who may see what): package control does.
//
// # Seams
//
// A Catalog owns only the plumbing: the managed cluster, the pool and the
// migrations (catalog.go, migrate.go). What is stored is reached through
// one store per domain, a field of the Catalog sharing its pool, each in
// its own file and each the only code that writes its tables:
//
//   - Accounts (accounts.go, adopt.go): customers, claiming, adoption.
//   - Tokens (tokens.go): API tokens.
//   - Databases (databases.go): database rows, their states and deletes.
//   - Branches (branches.go): branch rows while they clone.
//   - ConnectKeys (pgaccess.go): the front door's connect keys.
//   - DataPlane (dataplane.go): auth-configs and data API keys.
//   - Functions (functions.go): functions, versions, bundles, schedules.
//   - Runs (function_runs.go): function runs and their logs.
//   - Secrets (secrets.go): database secrets.
//   - Scheduler (scheduler.go): cron job copies, ticks and their claims.
//   - Observe (observe.go): per-minute figures and collector baselines.
//
// A caller holds the Catalog and names the domain at the call
// (cat.Tokens.Lookup), or is handed just the store it needs: Scheduler
// and Observe are the interfaces of packages scheduler and observe. Writes
// that span domains stay in one transaction inside the store that starts
// them (a branch made ACTIVE copies its parent's functions and secrets in
// Branches.FinishClone); the stores do not call one another.
package catalog
