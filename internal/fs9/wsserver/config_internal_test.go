package wsserver

import (
	"testing"
	"time"
)

// The tests of the protocol shorten the auth timeout; this pins what a
// server configured with nothing but Auth and Backend (as package server
// does) enforces: FS9.md's limits.
func TestConfig_DefaultsAreFS9Limits(t *testing.T) {
	var c Config
	c.defaults()
	if c.AuthTimeout != 10*time.Second || c.IdleTimeout != 300*time.Second || c.MaxConnsPerDB != 50 ||
		c.MaxInFlight != 10 || c.MaxFrame != 2<<20 || c.HeartbeatInterval != 30*time.Second {
		t.Fatalf("defaults %+v, want auth 10s, idle 300s, 50 connections per database, 10 in flight, 2 MiB frames, heartbeat 30s", c)
	}
}
