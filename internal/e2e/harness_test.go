package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgtest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// db9Binary builds cmd/db9 once per test process.
func db9Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "db9bin-")
		if err != nil {
			buildErr = err
			return
		}
		// Function workers run as nobody and re-execute this binary.
		_ = os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "db9")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/db9/db9/cmd/db9").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Server is a db9 server process under test.
type Server struct {
	t        testing.TB
	DataDir  string
	Addr     string
	PGAddr   string
	FS9Addr  string
	PoolAddr string // the pooled endpoint (--pg-pool-addr)
	Args     []string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *bytes.Buffer
	logMu    *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func freePort(t testing.TB) string {
	handedOut.Lock()
	defer handedOut.Unlock()
	// The kernel may give a port it just gave to another caller of this
	// function whose server has not bound it yet (seen: --http-addr and
	// --fs9-addr of one server on the same port): never hand one out twice.
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
	t.Fatal("no free port not handed out before")
	return ""
}

// handedOut are the addresses freePort returned in this test binary.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// StartServer runs `db9 server` on a fresh data directory with extra flags.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	pgtest.Env(t) // skip or fail when PostgreSQL is missing
	s := &Server{t: t, DataDir: filepath.Join(pgtest.TempDir(t), "data"), Addr: freePort(t), PGAddr: freePort(t), FS9Addr: freePort(t), PoolAddr: freePort(t), Args: extra}
	s.Start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() || os.Getenv("DB9_TEST_SERVER_LOG") != "" {
			t.Logf("server log:\n%s", s.Log())
		}
	})
	return s
}

// Start (re)starts the server process on its data directory and waits for /healthz.
func (s *Server) Start() {
	s.t.Helper()
	args := append([]string{"server", "--data-dir", s.DataDir, "--http-addr", s.Addr, "--pg-addr", s.PGAddr, "--pg-pool-addr", s.PoolAddr, "--fs9-addr", s.FS9Addr, "--log-level", "debug"}, s.Args...)
	s.cmd = exec.Command(db9Binary(s.t), args...)
	if s.log == nil {
		s.log, s.logMu = &bytes.Buffer{}, &sync.Mutex{}
	}
	w := lockedWriter{s.logMu, s.log}
	fmt.Fprintf(w, "---- start %v\n", args)
	s.cmd.Stdout, s.cmd.Stderr = w, w
	s.cmd.Env = append(os.Environ(), "DB9_DATA_DIR=", "DB9_API_KEY=")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { _ = cmd.Wait(); close(ch) }(s.cmd, s.exited)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s.Addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-s.exited:
			s.t.Fatalf("server exited during start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("server not healthy after 60s:\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.t.Errorf("server did not stop within 60s of SIGTERM")
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Kill9 kills the server process with SIGKILL, as a crash would.
func (s *Server) Kill9() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// Log returns what the server wrote so far.
func (s *Server) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Client is an HTTP client of the REST API with a bearer token.
type Client struct {
	t     testing.TB
	base  string
	Token string
}

// Client returns an API client without a token.
func (s *Server) Client() *Client { return &Client{t: s.t, base: "http://" + s.Addr} }

// Anonymous registers an anonymous account and returns a client using its token.
func (s *Server) Anonymous() *Client {
	c := s.Client()
	var reg map[string]any
	c.MustDo("POST", "/customer/anonymous-register", nil, 201, &reg)
	c.Token = reg["token"].(string)
	return c
}

// Do sends a request; body may be nil, a string (sent raw) or a value (JSON).
func (c *Client) Do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// MustDo sends a request, checks the status and decodes the JSON answer into out.
func (c *Client) MustDo(method, path string, body any, want int, out any) {
	c.t.Helper()
	code, b := c.Do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// Database is the subset of the database object tests use.
type Database struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	State            string `json:"state"`
	AdminPassword    string `json:"admin_password"`
	ConnectionString string `json:"connection_string"`
}

// CreateDB creates a database and returns it.
func (c *Client) CreateDB(name string) Database {
	c.t.Helper()
	var d Database
	c.MustDo("POST", "/customer/databases", map[string]any{"name": name}, 201, &d)
	return d
}

// SQLResult is the answer of POST .../sql.
type SQLResult struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows      [][]any `json:"rows"`
	RowCount  int     `json:"row_count"`
	Command   string  `json:"command"`
	Truncated bool    `json:"truncated"`
	Error     *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"error"`
}

// SQL runs a query and returns the result (SQL errors are in Error).
func (c *Client) SQL(db, query string, params ...any) SQLResult {
	c.t.Helper()
	body := map[string]any{"query": query}
	if len(params) > 0 {
		body["params"] = params
	}
	var r SQLResult
	c.MustDo("POST", "/customer/databases/"+db+"/sql", body, 200, &r)
	return r
}

// MustSQL runs a query and fails the test on an SQL error.
func (c *Client) MustSQL(db, query string, params ...any) SQLResult {
	c.t.Helper()
	r := c.SQL(db, query, params...)
	if r.Error != nil {
		c.t.Fatalf("sql %q on %s: %s (%s)", query, db, r.Error.Message, r.Error.Code)
	}
	return r
}

// postmasters lists the pids of postgres postmasters running on data
// directories under root (by their -D argument). A child the postmaster
// has just forked shows the same command line until it sets its own
// title: processes whose parent is listed are left out.
func postmasters(root string) map[int]string {
	out := map[int]string{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "-D" && i+1 < len(args) && strings.HasPrefix(args[i+1], root) {
				var pid int
				fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
				out[pid] = args[i+1]
			}
		}
	}
	for pid := range out {
		if _, ok := out[parentPid(pid)]; ok {
			delete(out, pid)
		}
	}
	return out
}

// parentPid reads a process's parent pid from /proc (0 if it is gone).
func parentPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// postmasterOf returns the pid of the postmaster of a database, or 0.
func (s *Server) postmasterOf(id string) int {
	for pid, dir := range postmasters(s.DataDir) {
		if dir == (layout.Layout{DataDir: s.DataDir}).DB(id).Data {
			return pid
		}
	}
	return 0
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StopStatus sends SIGTERM and waits up to timeout for the process to exit.
// It returns the exit code (-1 when killed by a signal or not exited in
// time) and how long the exit took.
func (s *Server) StopStatus(timeout time.Duration) (code int, took time.Duration) {
	s.t.Helper()
	start := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		took = time.Since(start)
		code = s.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		took = time.Since(start)
		code = -1
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	return code, took
}

// TryDo is Do for use from goroutines and across crashes: it never fails
// the test, it returns transport errors instead.
func (c *Client) TryDo(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// ListDBs returns the caller's databases (?all=true when all).
func (c *Client) ListDBs(all bool) []Database {
	c.t.Helper()
	path := "/customer/databases"
	if all {
		path += "?all=true"
	}
	var dbs []Database
	c.MustDo("GET", path, nil, 200, &dbs)
	return dbs
}

// instanceDirs lists the entries of <data-dir>/dbs.
func (s *Server) instanceDirs() map[string]bool {
	s.t.Helper()
	entries, err := os.ReadDir((layout.Layout{DataDir: s.DataDir}).DBs())
	if err != nil {
		s.t.Fatalf("read dbs dir: %v", err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		out[e.Name()] = true
	}
	return out
}

// runDB9 runs the db9 binary with args (not as a server) and returns its
// stdout, stderr and exit code.
func runDB9(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(db9Binary(t), args...)
	cmd.Env = append(os.Environ(), "DB9_DATA_DIR=", "DB9_API_KEY=", "DB9_CATALOG_URL=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run db9 %v: %v", args, err)
		}
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}
