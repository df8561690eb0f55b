package worker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/db9/db9/internal/logkey"
)

// proc is one worker process as the parent sees it.
//
// No goroutine reads the worker's stdout: the run (or the start) that
// waits for the worker's messages reads them itself, with a read deadline
// for the kill at timeout_ms + KillGrace, so a run costs no hand-off
// between goroutines and no timer of its own. Between runs the worker
// writes nothing. stdout is a pipe of the pool's own making, not exec's,
// so reaping the process (cmd.Wait) never closes it under a run that is
// still to read the worker's last message.
type proc struct {
	key     procKey
	db      string
	cmd     *exec.Cmd
	c       *conn
	stdin   io.Closer
	out     *os.File      // the read end of the worker's stdout
	exited  chan struct{} // closed when the process has been waited for
	exitErr error

	mu     sync.Mutex
	stderr []string // last lines, for the reason of a crash
	cpuMS  int64
	idleAt time.Time
	killed bool
}

const stderrKeep = 20

func (p *Pool) spawn(key procKey, db string) (*proc, error) {
	cmd := exec.Command(p.cfg.Command, p.cfg.Args...)
	cmd.Env = []string{} // empty, not inherited: no secrets, no DB9_* configuration
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: p.cfg.Credential,
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	// Both ends close-on-exec: only the worker's fd 1 is the write end.
	out, outW, err := os.Pipe()
	if err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	cmd.Stdout = outW
	err = cmd.Start()
	_ = outW.Close() // the worker has it: its exit is our EOF
	if err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	w := &proc{key: key, db: db, cmd: cmd, c: newConn(out, stdin), stdin: stdin, out: out,
		exited: make(chan struct{})}
	go func() {
		// Wait closes the stderr pipe: only once it reached EOF, which is
		// the worker's exit (it has no children), or lines would be lost.
		w.relayStderr(stderr, p.log)
		w.exitErr = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

// readDeadline sets when a read of the worker's messages gives up; a zero
// t reads without one.
func (w *proc) readDeadline(t time.Time) {
	// The pipe is in the poller (os.Pipe), so this cannot fail but for a
	// closed file, whose reads fail anyway.
	_ = w.out.SetReadDeadline(t)
}

func (w *proc) relayStderr(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		w.mu.Lock()
		w.stderr = append(w.stderr, line)
		if len(w.stderr) > stderrKeep {
			w.stderr = w.stderr[1:]
		}
		w.mu.Unlock()
		log.Debug("function worker stderr", logkey.PID, w.cmd.Process.Pid, logkey.Line, line)
	}
}

// kill ends the worker's whole process group and closes the pool's ends
// of its pipes; a read of its messages in progress returns an error.
func (w *proc) kill() {
	w.mu.Lock()
	w.killed = true
	w.mu.Unlock()
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	_ = w.stdin.Close()
	_ = w.out.Close()
}

// wait waits for the process to be reaped, at most d.
func (w *proc) wait(d time.Duration) {
	select {
	case <-w.exited:
	case <-time.After(d):
	}
}

// crashReason explains a worker that went away without a done message.
func (w *proc) crashReason(memoryMB int) string {
	w.wait(2 * time.Second)
	w.mu.Lock()
	tail := strings.Join(w.stderr, "\n")
	w.mu.Unlock()
	// Go's runtime says "out of memory"; a -race build's sanitizer "failed
	// to allocate".
	if strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory") ||
		strings.Contains(tail, "failed to allocate") {
		return fmt.Sprintf("memory limit exceeded (%d MB)", memoryMB)
	}
	var ee *exec.ExitError
	if errors.As(w.exitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			switch ws.Signal() {
			case syscall.SIGXCPU:
				return "CPU limit exceeded"
			case syscall.SIGKILL, syscall.SIGSEGV:
				// The kernel kills a process whose stack or mapping cannot
				// grow under RLIMIT_AS with SIGSEGV/SIGKILL.
				return fmt.Sprintf("the worker was killed (%s); memory limit %d MB", ws.Signal(), memoryMB)
			}
			return "the worker was killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("the worker crashed (exit status %d)", ee.ExitCode())
	}
	return "the worker exited unexpectedly"
}

// executable is the db9 binary, for Config.Command's default.
func executable() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/proc/self/exe"
}
