// Package auth makes and checks the platform's secrets: API tokens (random,
// stored only as SHA-256), the data plane's db9pk_ publishable and db9sk_
// service keys (likewise), generated passwords, SCRAM-SHA-256 verifiers for
// PostgreSQL roles, and AES-GCM sealing of secrets that must be shown again
// under the master key kept in secrets/.
//
// It does not store anything itself (see package catalog) nor speak HTTP.
package auth
