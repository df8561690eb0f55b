// Package e2e holds end-to-end tests: they build the db9 binary, run
// `db9 server` as a separate process on a data directory under /dev/shm,
// and drive it over HTTP like any client would — including killing it.
package e2e
