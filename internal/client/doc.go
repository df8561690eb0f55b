// Package client is a Go client of db9's customer REST API (/customer/*).
//
// It owns the wire shapes (typed requests and responses), bearer
// authentication with one transparent retry after a refresh hook, and the
// error type that carries the HTTP status, the API's stable code and its
// message. It deliberately knows nothing about where tokens are stored,
// terminals or output formats: that is the CLI's business. The CLI and the
// end-to-end tests both use it.
//
// The API's parts are services of a Client, as in go-github:
// c.Databases.Create, c.Tokens.List, c.Functions.Invoke, c.FS9.Connect.
// Each service lives in the file of its part (accounts.go holds Accounts
// and Tokens, functions.go Functions, secrets.go Secrets, and so on); the
// Client keeps only construction and the request plumbing they share.
package client
