// Package ttlcache is the read-through cache of the control plane's hot
// paths: bearer tokens, database lookups, data keys, checked passwords.
// Entries expire after a fixed time; it does no loading of its own and
// knows nothing of what it holds.
package ttlcache
