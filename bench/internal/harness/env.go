package harness

import (
	"flag"
	"os"
)

// Env holds the flags every benchmark takes.
type Env struct {
	dir string
	// WarmPool is the server's --warm-pool.
	WarmPool int
	// SparePool is the server's --spare-pool.
	SparePool int
	keep      bool
}

// Flags registers the common flags on fs.
func Flags(fs *flag.FlagSet) *Env {
	e := &Env{}
	fs.StringVar(&e.dir, "dir", "", "data directory (default: a new directory under /dev/shm)")
	fs.IntVar(&e.WarmPool, "warm-pool", 4, "server --warm-pool")
	fs.IntVar(&e.SparePool, "spare-pool", 16, "server --spare-pool")
	fs.BoolVar(&e.keep, "keep", false, "keep the data directory afterwards")
	return e
}

// DataDir is the benchmark's data directory: -dir, or a new directory
// under /dev/shm that the returned cleanup removes (unless -keep).
func (e *Env) DataDir() (string, func(), error) {
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
