// Package scheduler fires scheduled work once per tick (a minute, UTC):
// the cron_schedule of functions, through a FunctionFirer, and the jobs of
// the pg_cron-compatible `cron` schema inside every database (PlatformSQL,
// a platformsql part), which it runs itself as the role that scheduled
// them (docs/adr/0005-scheduler.md).
//
// It knows which databases have jobs without waking them: the catalog
// keeps a summary of every database's active jobs (Store), refreshed while
// the database runs (each tick for the running ones, after each run, and
// just before an idle stop). A tick is claimed in the catalog before
// anything runs for it, so a job fires at most once per tick across
// restarts and across servers sharing a catalog; ticks missed while the
// server was down follow the catch-up policy of Due.
//
// It does not run functions (the functions package does, behind
// FunctionFirer), decide where databases run (placement does), or parse
// SQL.
package scheduler
