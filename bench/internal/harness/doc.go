// Package harness is what every db9bench benchmark shares: the common
// flags and data directory (Env), an in-process db9 server started on
// ports it learns from the server's own log (Server), a minimal REST
// client of the customer API (APIClient), the summary of a sample of
// durations as a Markdown table row (Stats), and CPU accounting of this
// process, of an instance's PostgreSQL processes and of function workers.
//
// It measures nothing itself and prints no tables of its own: each
// benchmark, in the packages beside this one, decides what to run and
// what to report.
package harness
