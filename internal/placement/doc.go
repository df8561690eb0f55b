// Package placement is the seam between the platform and where its
// databases run (ARCHITECTURE §8). Every part of the platform that needs
// "a running database and how to reach it" asks a Driver: control for the
// life of a database (provision, restore a branch, stop, destroy), the
// front doors (the wire proxy, SQL over HTTP) and the subsystems to come
// for a Lease on a running one, which gives its Endpoint (a network
// address: a Unix socket path today, host:port later) and pgx pools into
// it as a given role.
//
// This package owns the vocabulary only: the interfaces, the Endpoint, the
// role names every instance has, the errors. It starts nothing. The one
// implementation so far, placement/local, runs every database as a child
// process of this server; nothing outside it may assume so — callers hold
// a Lease, dial its Endpoint and use its pools, never a path or a pid.
package placement
