// Package httpapi holds the db9bench benchmarks of db9's HTTP surfaces
// and what runs behind them: SQL over HTTP against direct pgx, the data
// API (PostgREST dialect) against POST /sql and pgx, functions invoked
// over the REST API against POST /sql, fs9's WebSocket transfers and SQL
// reads against COPY and selects, and what observability costs (pgbench
// with collection on and off, a /metrics scrape of many databases).
//
// Its load generators speak HTTP/1.1 on one raw connection each
// (rawHTTP), so that the client's own cost stays as small as pgx's on the
// direct side. Each benchmark is a function of its command-line arguments
// that prints its Markdown tables to standard output.
package httpapi
