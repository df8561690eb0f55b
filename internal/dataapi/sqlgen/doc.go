// Package sqlgen turns the data API's select tree into SQL: Plan resolves
// a parsed request (package pgrst) against the schema cache (package
// schema) and what the request may see, checking columns and choosing the
// one relationship every embedded resource goes through; a Builder renders
// the plan as one relation level with LATERAL joins for embeds, filters
// and logic trees, order, paging and counts, and the WHERE clause of
// (limited) updates and deletes.
//
// Every value becomes a $n parameter of the Builder and every name a
// quoted identifier, so a statement's text depends only on the request's
// shape (the data API prepares it once per connection and shape).
//
// It does not decide visibility (the caller passes it), read request
// bodies, run statements or shape responses: package dataapi assembles
// reads, writes and RPC calls around what it renders.
package sqlgen
