// Package functions holds the control plane's use cases of db9 Functions
// (API.md "Functions, secrets, cron"): Functions (bundles, deploys and
// versions, synchronous and scheduled invocations with idempotency, the
// retention of runs, and the database side of ctx.db and ctx.fs9), Runs
// (reading runs and their logs) and Secrets (a database's secrets, sealed
// with the master key).
//
// It decides what runs, as which role and with which grant, and records
// it in the catalog; it does not run code. A run without an idempotency
// key is written to the catalog once, when it ends; until then its start
// is in the server's run journal (package runjournal) and the run in
// memory, where Runs reads it (ADR 0007). The runtime is
// internal/functions (bundles, VMs, workers, host calls). control.Service
// builds these use cases and runs Open and Close; the /customer handlers
// and the scheduler call them.
package functions
