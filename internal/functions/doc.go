// Package functions is the runtime of db9 Functions: customer JavaScript or
// TypeScript run next to the database (API.md "Functions,
// secrets, cron").
//
// It is split by concern:
//
//   - bundle: turns the uploaded bytes (one file or a zip) into one
//     CommonJS script with esbuild at deploy, and computes the digest.
//   - runtime: the goja VM a handler runs in — the ctx API, console capture,
//     timers and the event loop, fetch, Web APIs — independent of processes.
//   - egress: the dial-time SSRF guard and origin allowlist used by fetch.
//   - worker: worker processes of the same binary (limits, IPC) and the
//     Pool that runs invocations in them; the parent executes ctx.db and
//     ctx.fs9 calls on a worker's behalf through the Host interface.
//   - hostcall: that parent side — ctx.db, ctx.fs9 and fetch executed under
//     the run's Grant (database, run_as, fs9_scope, allowlist), with the DB
//     and FS interfaces the server implements.
//   - memfs: an in-memory FS for tests.
//
// This package tree does not store functions, runs, logs or secrets, serve
// HTTP, or schedule cron runs: the catalog, the control API and the
// scheduler do, and call worker.Pool.Invoke.
package functions
