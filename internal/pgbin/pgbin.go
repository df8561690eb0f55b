package pgbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Bin is one PostgreSQL installation's binary directory.
type Bin struct {
	Dir   string // directory holding postgres, initdb, ...
	Major int    // major version, e.g. 15
}

// MinMajor is the oldest PostgreSQL major db9 supports.
const MinMajor = 15

// ErrNotFound reports that no usable PostgreSQL server binaries were found.
var ErrNotFound = errors.New("PostgreSQL server binaries (postgres, initdb) not found: install Debian package postgresql-15 or set DB9_PG_BIN")

// Path returns the full path of the named program (postgres, initdb, ...).
func (b Bin) Path(name string) string { return filepath.Join(b.Dir, name) }

// Find locates the server binaries in the documented order: DB9_PG_BIN,
// `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin, then PATH.
func Find() (Bin, error) {
	var candidates []string
	if d := os.Getenv("DB9_PG_BIN"); d != "" {
		b, err := probe(d)
		if err != nil {
			return Bin{}, fmt.Errorf("DB9_PG_BIN=%s: %w", d, err)
		}
		return b, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return versionOfDir(dirs[i]) > versionOfDir(dirs[j]) })
		candidates = append(candidates, dirs...)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, d := range candidates {
		if b, err := probe(d); err == nil {
			return b, nil
		}
	}
	return Bin{}, ErrNotFound
}

func versionOfDir(d string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
	return n
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

func probe(dir string) (Bin, error) {
	for _, p := range []string{"postgres", "initdb"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return Bin{}, ErrNotFound
		}
	}
	out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return Bin{}, fmt.Errorf("run postgres --version: %w", err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return Bin{}, fmt.Errorf("unrecognised postgres --version output %q", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	if major < MinMajor {
		return Bin{}, fmt.Errorf("PostgreSQL %d is too old: db9 needs %d or newer", major, MinMajor)
	}
	return Bin{Dir: dir, Major: major}, nil
}

// RunAs is the OS identity PostgreSQL processes run as. The zero value means
// "the current user" (the server is not root).
type RunAs struct {
	Name string
	UID  uint32
	GID  uint32
	Root bool // true when the server is root and processes switch to UID/GID
}

// DefaultOSUser is the unprivileged user instances run as when db9 runs as root.
const DefaultOSUser = "postgres"

// ResolveRunAs decides who PostgreSQL runs as: the current user, or, when
// that is root, the named unprivileged user (DB9_OS_USER or "postgres").
func ResolveRunAs() (RunAs, error) {
	if os.Geteuid() != 0 {
		return RunAs{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}, nil
	}
	name := os.Getenv("DB9_OS_USER")
	if name == "" {
		name = DefaultOSUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		return RunAs{}, fmt.Errorf("PostgreSQL refuses to run as root and OS user %q does not exist: create it (useradd --system %s) or set DB9_OS_USER", name, name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return RunAs{Name: name, UID: uint32(uid), GID: uint32(gid), Root: true}, nil
}

// SysProcAttr returns process attributes that start a child in its own
// process group, as the RunAs user, and deliver SIGQUIT (PostgreSQL's
// immediate shutdown) to it if this process dies, so no postmaster outlives
// the server.
func (r RunAs) SysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if r.Root {
		a.Credential = &syscall.Credential{Uid: r.UID, Gid: r.GID, NoSetGroups: true}
	}
	return a
}

// Chown gives path to the RunAs user (a no-op when not switching users).
func (r RunAs) Chown(path string) error {
	if !r.Root {
		return nil
	}
	return os.Lchown(path, int(r.UID), int(r.GID))
}

// ChownTree gives every file under root to the RunAs user.
func (r RunAs) ChownTree(root string) error {
	if !r.Root {
		return nil
	}
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(r.UID), int(r.GID))
	})
}

// CheckReachable verifies that the RunAs user can traverse every ancestor
// of dir, so PostgreSQL started as that user can reach its files. A data
// directory under /root (mode 0700) fails here with a message that says
// what to do.
func (r RunAs) CheckReachable(dir string) error {
	if !r.Root {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		ok := mode&0o001 != 0 ||
			(st.Uid == r.UID && mode&0o100 != 0) ||
			(st.Gid == r.GID && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("data directory %s is not reachable by OS user %q: %s has mode %o; choose a data directory outside it (e.g. --data-dir /var/lib/db9) or run chmod o+x %s", abs, r.Name, p, mode, p)
		}
		if p == "/" {
			return nil
		}
	}
}
