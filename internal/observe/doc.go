// Package observe owns db9's figures: the Prometheus metrics served at
// /metrics (Metrics: one registry built by the server and handed to the
// components that count), the db9-side record of SQL-over-HTTP and data
// API requests (Requests), and the Collector that reads every running
// instance's pg_stat_statements and pg_stat_database once a minute (and
// once more before an idle stop) into the catalog at one-minute
// resolution, where the observability API reads them.
//
// It deliberately does not wake databases (the collector only looks at
// running instances, with a lease that does not restart their idle
// clock), does not answer HTTP for the customer API (control/observability
// and controlapi do), and never puts a secret, token or customer SQL into
// a metric label: labels are route patterns, status codes, reasons and,
// only with --metrics-per-database, database ids.
package observe
