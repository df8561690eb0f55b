// Command db9 is the db9 platform server and its command-line client.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/db9/db9/internal/cli"
	"github.com/db9/db9/internal/functions/worker"
)

func main() {
	// A function worker (internal/functions/worker) is this binary started
	// by the server with an empty environment; it skips the CLI entirely.
	if len(os.Args) == 2 && os.Args[1] == worker.Subcommand {
		os.Exit(worker.Main())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
