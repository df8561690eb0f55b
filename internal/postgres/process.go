package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
)

// Process is one running PostgreSQL server process (the postmaster)
// started directly (not through pg_ctl) on a Unix socket only.
type Process struct {
	DataDir   string
	SocketDir string

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited and been reaped
	err    error         // exit error, valid after done
	logBuf *tailBuffer
}

// Options configure Start.
type Options struct {
	Bin       pgbin.Bin
	RunAs     pgbin.RunAs
	DataDir   string
	SocketDir string
	Settings  map[string]string // passed as -c name=value
	Logger    *slog.Logger
	// ReadyTimeout bounds the wait for the server to accept connections.
	ReadyTimeout time.Duration
}

// maxSocketPath is the usable length of sun_path on Linux minus the NUL.
const maxSocketPath = 107

// CheckSocketDir reports whether a socket in dir fits the kernel's limit.
func CheckSocketDir(dir string) error {
	if p := layout.SocketPath(dir); len(p) > maxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, over the %d-byte limit of Unix sockets: use a shorter --data-dir", p, len(p), maxSocketPath)
	}
	return nil
}

// Start starts postgres on opts.DataDir and waits until it
// accepts connections (postmaster.pid reports "ready"). On failure the
// process is stopped and the error carries the tail of its log.
func Start(ctx context.Context, opts Options) (*Process, error) {
	if err := CheckSocketDir(opts.SocketDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	if err := opts.RunAs.Chown(opts.SocketDir); err != nil {
		return nil, fmt.Errorf("chown socket dir: %w", err)
	}
	if err := KillStale(opts.DataDir); err != nil {
		return nil, err
	}
	args := []string{"-D", opts.DataDir, "-k", opts.SocketDir, "-c", "listen_addresses="}
	for k, v := range opts.Settings {
		args = append(args, "-c", k+"="+v)
	}
	cmd := exec.Command(opts.Bin.Path("postgres"), args...)
	cmd.SysProcAttr = opts.RunAs.SysProcAttr()
	cmd.Dir = opts.DataDir
	cmd.Env = []string{"LC_ALL=C.UTF-8", "TZ=UTC"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = nil
	pm := &Process{DataDir: opts.DataDir, SocketDir: opts.SocketDir, cmd: cmd, done: make(chan struct{}), logBuf: newTailBuffer(20)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(logkey.Component, "postgres")
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		relayLog(stderr, logger, pm.logBuf)
	}()
	go func() {
		// Wait for the postmaster itself, not for the end of its stderr:
		// backends that outlive a killed postmaster keep the pipe open (for
		// as long as they take to notice) and hold its shared memory, which
		// would block the next start. So end the whole process group as
		// soon as the postmaster is gone, then drain the log.
		state, err := cmd.Process.Wait()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-relayDone
		_ = stderr.Close()
		if err == nil && !state.Success() {
			err = &exec.ExitError{ProcessState: state}
		}
		pm.err = err
		close(pm.done)
	}()
	timeout := opts.ReadyTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if err := pm.waitReady(ctx, timeout); err != nil {
		pm.kill()
		return nil, err
	}
	return pm, nil
}

// Pid is the postmaster's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the process's exit status, valid after Done.
func (p *Process) ExitErr() error { return p.err }

// LogTail returns the last lines PostgreSQL wrote to stderr.
func (p *Process) LogTail() string { return p.logBuf.String() }

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pidFile := filepath.Join(p.DataDir, "postmaster.pid")
	delay := 500 * time.Microsecond
	for {
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited during start (%v): %s", p.err, p.LogTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if b, err := os.ReadFile(pidFile); err == nil {
			lines := strings.Split(string(b), "\n")
			// Line 8 (LOCK_FILE_LINE_PM_STATUS) says "ready" once connections are accepted.
			if len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready" && strings.TrimSpace(lines[0]) == strconv.Itoa(p.Pid()) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %s: %s", timeout, p.LogTail())
		}
		time.Sleep(delay)
		// Reading the small pid file is cheap; a coarser poll would add
		// up to its interval to every start.
		if delay < 2*time.Millisecond {
			delay *= 2
		}
	}
}

// Stop shuts the server down: fast shutdown (SIGINT), then immediate
// (SIGQUIT) if that takes longer than grace, then SIGKILL of the group.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	p.kill()
	return errors.New("postgres did not stop; killed")
}

// kill ends the process group at once and waits for the exit.
func (p *Process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}
