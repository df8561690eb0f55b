package postgres

import (
	"bufio"
	"io"
	"log/slog"
	"strings"
	"sync"
)

func relayLog(r io.Reader, logger *slog.Logger, tail *tailBuffer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		tail.Add(line)
		// A fast shutdown ends sessions with FATAL "administrator command":
		// expected on every stop, so not a warning.
		if (strings.Contains(line, "FATAL:") && !strings.Contains(line, "due to administrator command")) || strings.Contains(line, "PANIC:") {
			logger.Warn(line)
		} else {
			logger.Debug(line)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

type tailBuffer struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
