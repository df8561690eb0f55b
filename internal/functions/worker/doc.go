// Package worker runs function invocations in worker processes of the db9
// binary itself and pools them.
//
// A worker is started as `db9 function-worker` (Subcommand; cmd/db9 hands
// such a process to Main before anything else runs) with an empty
// environment, its own process group, stdin/stdout as the IPC channel and
// no other inherited descriptor but stderr, which the pool relays to its
// log. When the server runs as root the worker runs as an unprivileged user
// (Config.Credential, default nobody). It is bound to one function version
// of one database for its whole life, so a worker never runs two tenants'
// code; warm workers of a version are reused.
//
// Containment:
//   - time: the worker interrupts the VM at timeout_ms; the pool kills the
//     process group at timeout_ms + KillGrace whatever the worker does.
//     Either way the run is timed_out and the worker is not reused.
//   - memory: the worker polls the heap and interrupts the VM when what
//     survives a GC is above memory_mb (failed, "memory limit exceeded");
//     debug.SetMemoryLimit at 1.5x memory_mb keeps garbage in check without
//     making the GC thrash; RLIMIT_AS at memory_mb plus the Go runtime's
//     address-space overhead is the hard ceiling: an allocation past it kills the process, which the pool
//     reports as the same memory failure.
//   - CPU: RLIMIT_CPU caps the worker's lifetime CPU; the pool retires a
//     worker before its next run could reach the cap.
//   - reach: the worker has no database socket, credentials, file system
//     API or network API; ctx.db, ctx.fs9 and fetch are messages the pool
//     executes through Host under the run's hostcall.Grant.
//
// Fairness: at most MaxWorkersPerDatabase runs of one database execute at
// once, so a database flooding invocations queues behind its own runs and
// leaves the other MaxWorkers slots to other databases.
//
// It does not store runs or logs (the caller does, from Result) and does
// not decide who may invoke.
package worker
