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
type proc struct {
	key     procKey
	db      string
	cmd     *exec.Cmd
	c       *conn
	stdin   io.Closer
	msgs    chan *message // from the reader goroutine; closed at EOF
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
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start function worker: %w", err)
	}
	w := &proc{key: key, db: db, cmd: cmd, c: newConn(stdout, stdin), stdin: stdin,
		msgs: make(chan *message, 16), exited: make(chan struct{})}
	stderrDone := make(chan struct{})
	go func() { w.relayStderr(stderr, p.log); close(stderrDone) }()
	readDone := make(chan struct{})
	go func() { w.readLoop(); close(readDone) }()
	go func() {
		// Wait closes the pipes: only once both reached EOF, or a done
		// message just before the exit would be lost.
		<-readDone
		<-stderrDone
		w.exitErr = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

func (w *proc) readLoop() {
	defer close(w.msgs)
	for {
		m, err := w.c.recv()
		if err != nil {
			return
		}
		w.msgs <- m
	}
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

// kill ends the worker's whole process group.
func (w *proc) kill() {
	w.mu.Lock()
	w.killed = true
	w.mu.Unlock()
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	_ = w.stdin.Close()
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
