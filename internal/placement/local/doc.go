// Package local is the local placement driver (placement.Driver): every
// database is a PostgreSQL instance running as a child process of this
// server, under <data-dir>/dbs/<id>, reached over a private Unix socket.
// It is the only code that assumes so.
//
// It owns, each in a type of its own:
//   - supervisor: the instances and their postmasters — start on demand,
//     restart after a crash, stop after idleness (with the BeforeIdleStop
//     hooks), stop and remove on purpose;
//   - pools: warm (running, unclaimed) instances and spare (copied,
//     stopped) ones, refilled by one goroutine;
//   - goldens: the golden data directory of the current recipe, and older
//     ones a base backup still refers to;
//   - archiver: each instance's archiving settings and history (package
//     backup), the scheduled base backups;
//   - restore: a branch made from a base backup and replay, step by step.
//
// It knows nothing of customers, tokens or HTTP; callers name instances by
// database id.
package local
