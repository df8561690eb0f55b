// Package controlapi serves the /customer/* REST API of API.md: one file
// per resource, every route listed in routes.go. Handlers decode, call a
// control use case and encode; they hold no business rules.
package controlapi
