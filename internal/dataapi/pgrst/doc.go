// Package pgrst parses the PostgREST 12 request dialect (the select
// language, horizontal filters and logic trees, order, limit/offset, the
// Prefer header, on_conflict and columns) into a syntax tree, and defines
// the PostgREST error shape ({code, details, hint, message} plus an HTTP
// status) used by every layer of the data API, and writes the request's
// headers as PostgREST's request.headers setting (AppendHeadersJSON).
//
// It knows nothing about a database: names are resolved against the schema
// cache and turned into SQL elsewhere (packages sqlgen and dataapi). It never panics on
// any input; every malformed request is a PGRST100-family *Error.
package pgrst
