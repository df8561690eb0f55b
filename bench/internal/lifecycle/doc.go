// Package lifecycle holds the db9bench benchmarks of a database's life
// on one machine: creation (against CREATE DATABASE in a shared cluster),
// cold start, density, the copy of a data directory, branches (against a
// logical copy) and what WAL archiving costs.
//
// Each benchmark is a function of its command-line arguments that prints
// its Markdown tables to standard output; it drives an in-process server
// through its public surfaces (harness), and owns nothing beyond the run.
package lifecycle
