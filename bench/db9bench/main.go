// Command db9bench measures db9 against peers in the same run on the same
// machine: database creation (vs CREATE DATABASE in one shared cluster),
// cold start, SQL over HTTP (vs direct pgx on the instance's socket),
// density and fs9's transfers (vs COPY and plain selects). Results print
// as a Markdown table for docs/BENCHMARKS.md.
//
//	go run ./bench/db9bench create    [-seq 100] [-conc 20]
//	go run ./bench/db9bench coldstart [-n 30]
//	go run ./bench/db9bench sqlhttp   [-n 3000] [-duration 5s] [-rounds 1] [-cpuprofile f]
//	go run ./bench/db9bench dataapi   [-n 2000] [-duration 5s] [-clients 16] [-rounds 3]
//	go run ./bench/db9bench resetcost [-clients 16] [-duration 3s] [-variant 'DISCARD ALL' ...]
//	go run ./bench/db9bench density   [-n 1000] -dir /var/tmp/db9-density
//	go run ./bench/db9bench observe   [-T 10s] [-rounds 2] [-interval 1s] [-dbs 1000]
//	bin/db9bench functions [-n 2000] [-cold 30] [-duration 5s] [-clients 16] [-rounds 3]
//	go run ./bench/db9bench proxy     [-T 30s] [-rounds 3] [-c 16] [-j 2] [-n 500] [-cold 30] [-paths direct,db9,db9goroutines,db9tls,bouncer]
//	go run ./bench/db9bench fs9       [-rounds 3] [-mib 100] [-files 1000] [-entries 10000] [-sql-mib 10] [-cpuprofile f]
//	go run ./bench/db9bench pooler    [-idle 2000] [-T 60s] [-rounds 4] [-c 200] [-j 2] [-n 500]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/db9/db9/internal/cli"
	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/server"
)

func main() {
	// The in-process server's function workers are this binary
	// (worker.Subcommand), started with an empty environment.
	if len(os.Args) == 2 && os.Args[1] == worker.Subcommand {
		os.Exit(worker.Main())
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: db9bench create|coldstart|sqlhttp|resetcost|density|branch|archive|copy|proxy|pooler|observe|functions|fs9 [flags]")
		os.Exit(2)
	}
	if p := os.Getenv("DB9BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch os.Args[1] {
	case "wal-archive":
		// The in-process server's instances run this binary as their
		// archive_command where basic_archive is unavailable.
		os.Exit(cli.Run(context.Background(), os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
	case "create":
		err = benchCreate(os.Args[2:])
	case "coldstart":
		err = benchColdStart(os.Args[2:])
	case "sqlhttp":
		err = benchSQLHTTP(os.Args[2:])
	case "dataapi":
		err = benchDataAPI(os.Args[2:])
	case "resetcost":
		err = benchResetCost(os.Args[2:])
	case "density":
		err = benchDensity(os.Args[2:])
	case "copy":
		err = benchCopy(os.Args[2:])
	case "branch":
		err = benchBranch(os.Args[2:])
	case "archive":
		err = benchArchive(os.Args[2:])
	case "proxy":
		err = benchProxy(os.Args[2:])
	case "observe":
		err = benchObserve(os.Args[2:])
	case "functions":
		err = benchFunctions(os.Args[2:])
	case "fs9":
		err = benchFS9(os.Args[2:])
	case "pooler":
		err = benchPooler(os.Args[2:])
	case "pooler-hold":
		// The client side of the pooler benchmark's idle connections, in
		// a process of its own so that its memory is not the server's.
		err = poolerHold(os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "db9bench:", err)
		os.Exit(1)
	}
}

// common flags
type env struct {
	dir       string
	warmPool  int
	sparePool int
	keep      bool
}

func commonFlags(fs *flag.FlagSet) *env {
	e := &env{}
	fs.StringVar(&e.dir, "dir", "", "data directory (default: a new directory under /dev/shm)")
	fs.IntVar(&e.warmPool, "warm-pool", 4, "server --warm-pool")
	fs.IntVar(&e.sparePool, "spare-pool", 16, "server --spare-pool")
	fs.BoolVar(&e.keep, "keep", false, "keep the data directory afterwards")
	return e
}

func (e *env) dataDir() (string, func(), error) {
	if e.dir != "" {
		if err := os.MkdirAll(e.dir, 0o755); err != nil {
			return "", nil, err
		}
		return e.dir, func() {}, nil
	}
	d, err := os.MkdirTemp("/dev/shm", "db9bench-")
	if err != nil {
		return "", nil, err
	}
	_ = os.Chmod(d, 0o755)
	return d, func() {
		if !e.keep {
			os.RemoveAll(d)
		}
	}, nil
}

// benchServer is an in-process db9 server and its data directory's
// layout, which the benchmarks read to reach an instance directly (the
// peer of the front doors) and to see whether its postmaster runs.
type benchServer struct {
	*server.Server
	lay   layout.Layout
	addrs *listenAddrs
}

// HTTPAddr is the address the server's HTTP API listens on.
func (s *benchServer) HTTPAddr() string { return s.addrs.get(logkey.HTTPAddr) }

// PGAddr is the address of the server's PostgreSQL front door.
func (s *benchServer) PGAddr() string { return s.addrs.get(logkey.PGAddr) }

// FS9Addr is the address of the server's fs9 listener.
func (s *benchServer) FS9Addr() string { return s.addrs.get(logkey.FS9Addr) }

// PGPoolAddr is the address of the server's pooled endpoint.
func (s *benchServer) PGPoolAddr() string { return s.addrs.get(logkey.PGPoolAddr) }

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

// startServer runs an in-process db9 server on dir; set, when not nil,
// changes its configuration.
func startServer(ctx context.Context, dir string, warmPool, sparePool int, idle time.Duration, set ...func(*config.Server)) (*benchServer, error) {
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(dir, "db9")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.PGAddr = "127.0.0.1:0"
	cfg.FS9Addr = "127.0.0.1:0"
	cfg.PGPoolAddr = "127.0.0.1:0"
	cfg.IdleTimeout = idle
	cfg.WarmPool = warmPool
	cfg.SparePool = sparePool
	cfg.AnonymousDBLimit = 1 << 30
	for _, f := range set {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if os.Getenv("DB9BENCH_LOG") == "info" { // e.g. the "restored instance" step times
		level = slog.LevelInfo
	}
	addrs := newListenAddrs(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	s := server.New(cfg, slog.New(addrs))
	if err := s.Open(ctx); err != nil {
		return nil, err
	}
	if addrs.get(logkey.HTTPAddr) == "" || addrs.get(logkey.PGAddr) == "" {
		s.Close(ctx)
		return nil, errors.New("the server logged no listen addresses")
	}
	return &benchServer{Server: s, lay: layout.Layout{DataDir: cfg.DataDir}, addrs: addrs}, nil
}

// directConn is the connection string of user on database id's instance
// socket, bypassing the front doors.
func (s *benchServer) directConn(id, user string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", s.lay.DB(id).SocketDir, layout.Port, user)
}

// postmaster is the pid of database id's running postmaster, or 0.
func (s *benchServer) postmaster(id string) int {
	data := s.lay.DB(id).Data
	if !postgres.Alive(data) {
		return 0
	}
	return postgres.PostmasterPid(data)
}

// waitStopped waits until database id's instance was stopped for
// idleness (the server runs with a short --idle-timeout).
func (s *benchServer) waitStopped(id string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for s.postmaster(id) != 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not stopped for idleness within %s", id, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// serverWithDB starts an in-process server on a new data directory and
// creates one database in it for an anonymous customer; close undoes both.
func serverWithDB(e *env, name string) (srv *benchServer, api *apiClient, id string, close func(), err error) {
	dir, cleanup, err := e.dataDir()
	if err != nil {
		return nil, nil, "", nil, err
	}
	ctx := context.Background()
	srv, err = startServer(ctx, dir, e.warmPool, e.sparePool, 0)
	if err != nil {
		cleanup()
		return nil, nil, "", nil, err
	}
	close = func() { srv.Close(ctx); cleanup() }
	if api, err = newAPIClient(srv.HTTPAddr()); err == nil {
		id, err = api.create(name)
	}
	if err != nil {
		close()
		return nil, nil, "", nil, err
	}
	return srv, api, id, close, nil
}

// stats summarises a sample of durations.
type stats struct {
	n             int
	p50, p95, max time.Duration
	mean          time.Duration
}

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return stats{n: len(s), p50: s[len(s)/2], p95: s[(len(s)*95)/100], max: s[len(s)-1], mean: sum / time.Duration(len(s))}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func (s stats) row(name string) string {
	return fmt.Sprintf("| %s | %d | %s | %s | %s |", name, s.n, ms(s.p50), ms(s.p95), ms(s.max))
}

const tableHead = "| measurement | n | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|"

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

// waitPools waits until the server's warm pool holds at least warm
// instances and its spare pool spare copies, and both stopped changing
// (the warm pool may have grown past warm after a burst), as on a server
// that has been up a while, so phases start alike. It watches the data
// directory: a warm instance is a directory under dbs/ that is no
// database api made.
func waitPools(srv *benchServer, api *apiClient, warm, spare int) {
	count := func() (w, s int) {
		dbs, _ := os.ReadDir(srv.lay.DBs())
		for _, d := range dbs {
			if !api.madeIt(d.Name()) && srv.postmaster(d.Name()) != 0 {
				w++
			}
		}
		spares, _ := os.ReadDir(srv.lay.Spares())
		for _, d := range spares {
			if !strings.HasSuffix(d.Name(), ".tmp") {
				s++
			}
		}
		return w, s
	}
	deadline := time.Now().Add(2 * time.Minute)
	lastW, lastS, since := -1, -1, time.Now()
	for time.Now().Before(deadline) {
		w, s := count()
		if w != lastW || s != lastS {
			lastW, lastS, since = w, s, time.Now()
		}
		if w >= warm && s >= spare && time.Since(since) >= 500*time.Millisecond {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "warning: pools not full after 2 minutes")
}
