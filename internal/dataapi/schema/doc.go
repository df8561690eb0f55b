// Package schema is the data API's picture of one database: tables, views
// and their columns, primary keys, foreign keys turned into relationships
// (many-to-one, one-to-many, one-to-one, many-to-many through a junction
// table) and functions with their arguments, return shape and volatility.
//
// Load reads it from the catalogs in one round trip together with the
// schema version that the platform's event trigger bumps on every DDL
// (dataapi.PlatformSQL); the data API compares that version on every
// request in the round trip it already makes, so a stale Schema is never
// used to run a statement. Platform schemas (pg_*, information_schema,
// _db9*, auth, extensions, cron) are never loaded.
//
// It does not decide what a caller may see: visibility is applied by the
// data API from the request's principal.
package schema
