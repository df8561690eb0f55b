// Package web is the HTTP plumbing every db9 HTTP surface shares: the one
// adapter that turns errors into JSON error bodies, strict JSON request
// decoding with a size limit, and middleware (request ids, logging, panic
// recovery, JSON 404/405). It holds no routes of its own.
package web
