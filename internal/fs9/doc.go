// Package fs9 is the file system inside every database (FS9.md): its error
// codes and path rules, shared by the sub-packages that do the work.
//
//   - schema: the storage tables and SQL functions installed in each
//     tenant database (platform schema _db9_fs, SQL face in extensions).
//   - store: a Go API over pgx that calls those functions as the tenant's
//     role, including streamed reads and writes of up to 100 MiB.
//   - wsserver: DB9's JSON WebSocket protocol as an http.Handler.
//   - wsclient: a Go client of that protocol (CLI, tests).
//   - fusefs: a database's files mounted through FUSE over wsclient
//     (db9 fs mount).
//
// fs9 deliberately knows nothing of instances, the catalog or the server:
// the wsserver asks an Authenticator who is connecting and a Backend for a
// pool of the database as that role; the server wires both.
package fs9
