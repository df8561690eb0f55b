package instance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/db9/db9/internal/pgbin"
)

// Postmaster is one running PostgreSQL server process started directly
// (not through pg_ctl) on a Unix socket only.
type Postmaster struct {
	DataDir   string
	SocketDir string
	Port      int // the number in the socket file name; 5432 unless set

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited and been reaped
	err    error         // exit error, valid after done
	logBuf *tailBuffer
}

// StartOptions configure StartPostmaster.
type StartOptions struct {
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

// SocketPath returns the path of the server's Unix socket file.
func SocketPath(socketDir string, port int) string {
	return filepath.Join(socketDir, ".s.PGSQL."+strconv.Itoa(port))
}

// CheckSocketDir reports whether a socket in dir fits the kernel's limit.
func CheckSocketDir(dir string) error {
	if p := SocketPath(dir, 5432); len(p) > maxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, over the %d-byte limit of Unix sockets: use a shorter --data-dir", p, len(p), maxSocketPath)
	}
	return nil
}

// StartPostmaster starts postgres on opts.DataDir and waits until it
// accepts connections (postmaster.pid reports "ready"). On failure the
// process is stopped and the error carries the tail of its log.
func StartPostmaster(ctx context.Context, opts StartOptions) (*Postmaster, error) {
	if err := CheckSocketDir(opts.SocketDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	if err := opts.RunAs.Chown(opts.SocketDir); err != nil {
		return nil, fmt.Errorf("chown socket dir: %w", err)
	}
	if err := killStale(opts.DataDir); err != nil {
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
	pm := &Postmaster{DataDir: opts.DataDir, SocketDir: opts.SocketDir, Port: 5432, cmd: cmd, done: make(chan struct{}), logBuf: newTailBuffer(20)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
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
		pm.Kill()
		return nil, err
	}
	return pm, nil
}

// Pid is the postmaster's process id.
func (p *Postmaster) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Postmaster) Done() <-chan struct{} { return p.done }

// ExitErr is the process's exit status, valid after Done.
func (p *Postmaster) ExitErr() error { return p.err }

// LogTail returns the last lines PostgreSQL wrote to stderr.
func (p *Postmaster) LogTail() string { return p.logBuf.String() }

func (p *Postmaster) waitReady(ctx context.Context, timeout time.Duration) error {
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
		// up to its interval to every start (a restore is ready at
		// ~35 ms: polling at 16 ms steps found it at ~47).
		if delay < 2*time.Millisecond {
			delay *= 2
		}
	}
}

// Stop shuts the server down: fast shutdown (SIGINT), then immediate
// (SIGQUIT) if that takes longer than grace, then SIGKILL of the group.
func (p *Postmaster) Stop(grace time.Duration) error {
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
	p.Kill()
	return errors.New("postgres did not stop; killed")
}

// Kill ends the process group at once and waits for the exit.
func (p *Postmaster) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// killStale ends a postmaster that still runs on dataDir from an earlier
// life of the server (normally the parent-death signal already did).
func killStale(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	if !isPostgresOn(pid, dataDir) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	for i := 0; i < 500; i++ {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}

// isPostgresOn reports whether pid is a postgres process whose command line
// names dataDir, so a recycled pid is never signalled.
func isPostgresOn(pid int, dataDir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != "postgres" && !strings.HasPrefix(filepath.Base(args[0]), "postgres") {
		return false
	}
	for i, a := range args {
		if a == "-D" && i+1 < len(args) && filepath.Clean(args[i+1]) == filepath.Clean(dataDir) {
			return true
		}
	}
	return false
}

func relayLog(r io.Reader, logger *slog.Logger, tail *tailBuffer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		tail.Add(line)
		// A fast shutdown ends sessions with FATAL "administrator command":
		// expected on every stop, so not a warning.
		if (strings.Contains(line, "FATAL:") && !strings.Contains(line, "due to administrator command")) || strings.Contains(line, "PANIC:") {
			logger.Warn(line, "component", "postgres")
		} else {
			logger.Debug(line, "component", "postgres")
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

// InitDB runs initdb for a new cluster in dir, owned by the RunAs user,
// with the platform superuser as bootstrap user and trust auth on the
// private socket (ARCHITECTURE §2). walSegMB sets --wal-segsize.
func InitDB(ctx context.Context, bin pgbin.Bin, runAs pgbin.RunAs, dir, superuser string, walSegMB int) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := runAs.Chown(dir); err != nil {
		return err
	}
	args := []string{"-D", dir, "-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions", "-N"}
	if walSegMB > 0 {
		args = append(args, "--wal-segsize="+strconv.Itoa(walSegMB))
	}
	cmd := exec.CommandContext(ctx, bin.Path("initdb"), args...)
	cmd.SysProcAttr = runAs.SysProcAttr()
	cmd.Env = []string{"LC_ALL=C.UTF-8", "TZ=UTC", "PATH=/usr/bin:/bin"}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s: %w: %s", dir, err, out)
	}
	return nil
}

// PostmasterAlive reports whether a postgres process runs on dataDir,
// according to its postmaster.pid and /proc.
func PostmasterAlive(dataDir string) bool {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return false
	}
	return isPostgresOn(pid, dataDir)
}
