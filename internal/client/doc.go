// Package client is a Go client of db9's customer REST API (/customer/*).
//
// It owns the wire shapes (typed requests and responses), bearer
// authentication with one transparent retry after a refresh hook, and the
// error type that carries the HTTP status, the API's stable code and its
// message. It deliberately knows nothing about where tokens are stored,
// terminals or output formats: that is the CLI's business. The CLI and the
// end-to-end tests both use it.
package client
