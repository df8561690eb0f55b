// Package cli builds the db9 command tree: `db9 server`, the operator's
// `db9 admin ...` commands, and (as they land) the client commands that
// talk to the REST API. Commands are built by constructors that take their
// dependencies; only main exits.
package cli
