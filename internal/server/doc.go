// Package server is the composition root of `db9 server`: it opens the
// components in order (catalog, secrets, instances, control, HTTP), serves
// until its context ends, and closes them in reverse.
package server
