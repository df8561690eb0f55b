// Package auth makes and checks the platform's secrets: API tokens (random,
// data plane keys db9pk_/db9sk_ likewise stored only as SHA-256,
// stored only as SHA-256), generated passwords, SCRAM-SHA-256 verifiers for
// PostgreSQL roles, and AES-GCM sealing of secrets that must be shown again
// under the master key kept in secrets/.
//
// It does not store anything itself (see package catalog) nor speak HTTP.
package auth
