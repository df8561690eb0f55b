//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
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

// TestCLI_InteractiveSession drives `db9 sql` on a terminal: prompt,
// multi-line input ended by ;, aligned tables, history recall with the up
// arrow, \s and \q.
func TestCLI_InteractiveSession(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "tty")

	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(db9Binary(t), "sql", "tty")
	cmd.Env = append(os.Environ(), "HOME="+u.Home, "DB9_API_URL="+u.APIURL, "DB9_API_KEY=", "DB9_DATABASE=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default: // a failed test must not leave the session behind
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.ReplaceAll(screen.String(), "\r\n", "\n")
	}
	// expect waits until the screen shows want n times in all.
	expect := func(want string, n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(text(), want) < n {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q %d times:\n%s", want, n, text())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	send := func(keys string) {
		t.Helper()
		if _, err := master.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}

	expect("tty=> ", 1)
	send("select 1\r")
	expect("tty-> ", 1)
	send("  as answer;\r")
	expect(" answer\n--------\n      1\n(1 row)", 1)
	expect("tty=> ", 2)
	send("\x1b[A\r") // up arrow recalls the statement
	expect("(1 row)", 2)
	send("selec oops;\r")
	expect("42601", 1)
	send("\\s\r")
	expect("   1  select 1 as answer;", 1)
	send("\\q\r")

	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("session exit: %v\n%s", err, text())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("session did not end on \\q:\n%s", text())
	}
}
