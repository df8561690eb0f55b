// Package wire holds the db9bench benchmarks of the PostgreSQL wire
// protocol's front doors: the session proxy against a direct connection
// and PgBouncer in session mode (pgbench, connection setup, cold
// connects), the pooled endpoint against PgBouncer in transaction mode
// (memory of idle clients, pgbench, connection setup), and what a session
// reset ahead of a query costs the backend. It runs pgbench and PgBouncer
// as child processes; pooler-hold is the child that holds the pooler
// benchmark's idle client connections.
//
// Each benchmark is a function of its command-line arguments that prints
// its Markdown tables to standard output.
package wire
