// Package pgbin locates the PostgreSQL server binaries db9 runs and the
// unprivileged OS user they run as when the server itself runs as root.
//
// It does not start or supervise anything; see package instance for that.
package pgbin
