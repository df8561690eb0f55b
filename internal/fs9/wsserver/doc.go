// Package wsserver serves DB9's fs9 WebSocket protocol (FS9.md) as an
// http.Handler, for any request path: the server mounts it on its own
// listener (--fs9-addr) and at /fs9 on the HTTP server.
//
// A connection authenticates with its first frame; the Authenticator says
// which database and role the credentials stand for, the Backend gives a
// pool of that database as that role and keeps the instance awake until
// the connection closes. Every file operation then runs through package
// store as that role, so PostgreSQL enforces who may read and write.
//
// It does not know how credentials are checked nor how instances run.
package wsserver
