//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return m, s
}

// ptySession is a db9 command running on a pseudo-terminal.
type ptySession struct {
	t       *testing.T
	master  *os.File
	mu      sync.Mutex
	screen  bytes.Buffer
	exited  chan error
	drained chan struct{} // the reader saw the end of the output
}

// startOnPTY runs db9 args as user u with stdin, stdout and stderr on a
// new pseudo-terminal.
func startOnPTY(t *testing.T, u *cliUser, args ...string) *ptySession {
	t.Helper()
	master, slave := openPTY(t)
	t.Cleanup(func() { master.Close() })
	cmd := exec.Command(db9Binary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+u.Home, "DB9_API_URL="+u.APIURL, "DB9_API_KEY=", "DB9_DATABASE=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	p := &ptySession{t: t, master: master, exited: make(chan error, 1), drained: make(chan struct{})}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case err := <-p.exited:
			p.exited <- err
		default: // a failed test must not leave the command behind
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	go func() {
		defer close(p.drained)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.screen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil { // EIO once the command and its terminal are gone
				return
			}
		}
	}()
	return p
}

func (p *ptySession) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.screen.String(), "\r\n", "\n")
}

// expect waits until the screen shows want n times in all.
func (p *ptySession) expect(want string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(p.text(), want) < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("screen never showed %q %d times:\n%s", want, n, p.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *ptySession) send(keys string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(keys)); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the command to exit and returns its error.
func (p *ptySession) wait() error {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		select {
		case <-p.drained:
		case <-time.After(5 * time.Second):
		}
		return err
	case <-time.After(60 * time.Second):
		p.t.Fatalf("command did not exit:\n%s", p.text())
		return nil
	}
}

// TestCLI_InteractiveSession drives `db9 sql` on a terminal: prompt,
// multi-line input ended by ;, aligned tables, history recall with the up
// arrow, \s and \q.
func TestCLI_InteractiveSession(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "tty")

	p := startOnPTY(t, u, "sql", "tty")
	p.expect("tty=> ", 1)
	p.send("select 1\r")
	p.expect("tty-> ", 1)
	p.send("  as answer;\r")
	p.expect(" answer\n--------\n      1\n(1 row)", 1)
	p.expect("tty=> ", 2)
	p.send("\x1b[A\r") // up arrow recalls the statement
	p.expect("(1 row)", 2)
	p.send("selec oops;\r")
	p.expect("42601", 1)
	p.send("\\s\r")
	p.expect("   1  select 1 as answer;", 1)
	p.send("\\q\r")
	if err := p.wait(); err != nil {
		t.Fatalf("session exit: %v\n%s", err, p.text())
	}
}

// TestCLI_TerminalBranchProgressAndDeleteConfirmation: on a terminal,
// branch create shows progress until ACTIVE, and delete asks for the name.
func TestCLI_TerminalBranchProgressAndDeleteConfirmation(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "base")

	p := startOnPTY(t, u, "branch", "create", "base", "--name", "twig")
	if err := p.wait(); err != nil {
		t.Fatalf("branch create: %v\n%s", err, p.text())
	}
	if !strings.Contains(p.text(), "Branch twig is ACTIVE") || !regexp.MustCompile(`State:\s+ACTIVE`).MatchString(p.text()) ||
		!strings.Contains(p.text(), "Creating branch twig") {
		t.Errorf("branch create on a terminal:\n%s", p.text())
	}

	p = startOnPTY(t, u, "delete", "twig")
	p.expect("Type its name to confirm: ", 1)
	p.send("wrong\r")
	if err := p.wait(); err == nil || !strings.Contains(p.text(), "not deleted") {
		t.Errorf("delete with the wrong name: %v\n%s", err, p.text())
	}
	p = startOnPTY(t, u, "delete", "twig")
	p.expect("Type its name to confirm: ", 1)
	p.send("twig\r")
	if err := p.wait(); err != nil || !strings.Contains(p.text(), "Deleted database twig") {
		t.Errorf("delete confirmed: %v\n%s", err, p.text())
	}
}

// TestCLI_ShellCompletion drives the SQL session's Tab completion on a
// terminal: a table name after FROM and a column name, from the schema
// fetched when the session starts, and a table created in the session
// (the names are fetched again after DDL); then a second session finds the
// first one's statement in the history file with Ctrl-R.
func TestCLI_ShellCompletion(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "tab")
	u.ok("sql", "tab", "-q", "create table inventory_items (quantity int); insert into inventory_items values (7)")

	p := startOnPTY(t, u, "sql", "tab")
	p.expect("tab=> ", 1)
	p.send("select quan\t from inventory_i\t;\r")
	p.expect("select quantity from inventory_items;", 1)
	p.expect(" quantity\n----------\n        7\n(1 row)", 1)
	p.expect("tab=> ", 2)
	p.send("create table widget_log (w int);\r")
	p.expect("tab=> ", 3)
	p.send("select count(*) as widgets from widget_\t;\r")
	p.expect("from widget_log;", 1)
	p.expect(" widgets\n---------\n       0\n(1 row)", 1)
	p.expect("tab=> ", 4)
	p.send("\\q\r")
	if err := p.wait(); err != nil {
		t.Fatalf("first session: %v\n%s", err, p.text())
	}

	p = startOnPTY(t, u, "sql", "tab")
	p.expect("tab=> ", 1)
	p.send("\x12quantity") // Ctrl-R: reverse search of the history
	p.expect("select quantity from inventory_items;", 1)
	p.send("\r")
	p.expect(" quantity\n----------\n        7\n(1 row)", 1)
	p.expect("tab=> ", 2)
	p.send("\x04") // Ctrl-D on an empty line ends the session
	if err := p.wait(); err != nil {
		t.Fatalf("second session: %v\n%s", err, p.text())
	}
}
