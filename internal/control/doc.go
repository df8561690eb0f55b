// Package control holds the platform's use cases: accounts and API tokens,
// creating, listing and deleting databases (with quotas and crash-safe
// ordering), credentials, and running SQL on a database. It ties the
// catalog (what exists) to the instance manager (what runs) and returns
// platform.Errors with public messages; it knows nothing of HTTP.
package control
