package server_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/server"
)

// A server closed right after it opened (a benchmark that only needed the
// golden directory, a start aborted by a signal) shuts down cleanly.
func TestServer_CloseRightAfterOpen(t *testing.T) {
	pgtest.Env(t)
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(pgtest.TempDir(t), "db9")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.PGAddr = "127.0.0.1:0"
	cfg.FS9Addr = "127.0.0.1:0"
	cfg.PGPoolAddr = "127.0.0.1:0"
	cfg.WarmPool, cfg.SparePool = 0, 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
