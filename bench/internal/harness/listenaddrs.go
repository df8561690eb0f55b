package harness

import (
	"context"
	"log/slog"
	"sync"

	"github.com/db9/db9/internal/logkey"
)

// listenAddrs is a log handler that keeps the listen addresses the server
// logs once it serves (logkey.HTTPAddr, ...): the benchmarks listen on
// port 0, and that log line is how they, like an operator, learn the
// ports. Every record goes on to next as it would without it.
type listenAddrs struct {
	next slog.Handler
	st   *addrState
}

type addrState struct {
	mu sync.Mutex
	m  map[string]string
}

func newListenAddrs(next slog.Handler) *listenAddrs {
	return &listenAddrs{next: next, st: &addrState{m: map[string]string{}}}
}

func (h *listenAddrs) get(key string) string {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	return h.st.m[key]
}

// Enabled lets Info records through to Handle, where the addresses are.
func (h *listenAddrs) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *listenAddrs) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case logkey.HTTPAddr, logkey.PGAddr, logkey.PGPoolAddr, logkey.FS9Addr:
			h.st.mu.Lock()
			h.st.m[a.Key] = a.Value.String()
			h.st.mu.Unlock()
		}
		return true
	})
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *listenAddrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &listenAddrs{next: h.next.WithAttrs(as), st: h.st}
}

func (h *listenAddrs) WithGroup(name string) slog.Handler {
	return &listenAddrs{next: h.next.WithGroup(name), st: h.st}
}
