// Package cli builds the db9 command tree: `db9 server`, the operator's
// `db9 admin ...` commands, and the client commands that talk to the REST
// API through internal/client (create, list, sql, db ..., branch, token,
// migration, ...), shaped after DB9's CLI.
//
// Commands are built by constructors that take their dependencies (Env and
// the client commands' *app); only main exits. The client commands are
// methods of one small type per command group (dbCommands, branchCommands,
// sqlCommands, fsCommands, functionsCommands, tokenCommands, ...), each
// embedding the one *app they share; app keeps only the plumbing:
// settings, credentials, the API client, output and error explanation.
//
// Client settings resolve in one order: defaults → ~/.db9/config.toml →
// environment (DB9_*) → flags. Credentials live in ~/.db9/credentials
// (TOML, 0600, written atomically), the file DB9's CLI and SDK share.
// Every failure is one line on stderr with a hint, and exit code 1.
package cli
