// Package pgtest starts real, throwaway PostgreSQL clusters for tests, with
// their data under /dev/shm when it exists. Tests skip when the server
// binaries are missing, except under CI=true where they fail.
package pgtest
