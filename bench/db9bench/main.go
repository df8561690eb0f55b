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
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/db9/db9/bench/internal/httpapi"
	"github.com/db9/db9/bench/internal/lifecycle"
	"github.com/db9/db9/bench/internal/wire"
	"github.com/db9/db9/internal/cli"
	"github.com/db9/db9/internal/functions/worker"
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
		err = lifecycle.Create(os.Args[2:])
	case "coldstart":
		err = lifecycle.ColdStart(os.Args[2:])
	case "sqlhttp":
		err = httpapi.SQLHTTP(os.Args[2:])
	case "dataapi":
		err = httpapi.DataAPI(os.Args[2:])
	case "resetcost":
		err = wire.ResetCost(os.Args[2:])
	case "density":
		err = lifecycle.Density(os.Args[2:])
	case "copy":
		err = lifecycle.Copy(os.Args[2:])
	case "branch":
		err = lifecycle.Branch(os.Args[2:])
	case "archive":
		err = lifecycle.Archive(os.Args[2:])
	case "proxy":
		err = wire.Proxy(os.Args[2:])
	case "observe":
		err = httpapi.Observe(os.Args[2:])
	case "functions":
		err = httpapi.Functions(os.Args[2:])
	case "fs9":
		err = httpapi.FS9(os.Args[2:])
	case "pooler":
		err = wire.Pooler(os.Args[2:])
	case "pooler-hold":
		// The client side of the pooler benchmark's idle connections, in
		// a process of its own so that its memory is not the server's.
		err = wire.PoolerHold(os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "db9bench:", err)
		os.Exit(1)
	}
}
