// Package observability holds the use case behind GET
// .../observability (Observability.Report): a database's figures of a
// window, per minute and in total, with its top statements, read from
// what the collector (internal/observe) stored in the catalog and from
// live counters, never by waking the database. RequestObserver is how
// SQL over HTTP and the data API tell the collector of their requests.
//
// The server builds it, beside control.Service, once the collector exists.
package observability
