// Package web is the HTTP plumbing every db9 HTTP surface shares: the one
// adapter that turns errors into JSON error bodies, strict JSON request
// decoding with a size limit, middleware (request ids, logging, panic
// recovery, JSON 404/405, the matched route for an outer layer), and
// helpers that append JSON strings and times exactly as encoding/json
// writes them, for responses written by hand. It holds no routes of its
// own.
package web
