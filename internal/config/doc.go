// Package config defines the server configuration, its defaults, and the
// environment variables that feed it. Values load in one visible order:
// defaults, then DB9_* environment variables, then command-line flags.
package config
