package pgbin_test

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/pgtest"
)

// shmDir returns a fresh directory under /dev/shm (or the temp dir),
// mode 0755, removed at the end of the test.
func shmDir(t *testing.T) string {
	t.Helper()
	return pgtest.TempDir(t)
}

func TestFind_DB9PGBin(t *testing.T) {
	real, _ := pgtest.Env(t) // skips without PostgreSQL
	t.Run("ValidDir", func(t *testing.T) {
		t.Setenv("DB9_PG_BIN", real.Dir)
		b, err := pgbin.Find()
		if err != nil {
			t.Fatal(err)
		}
		if b.Dir != real.Dir || b.Major < pgbin.MinMajor {
			t.Errorf("Find = %+v, want dir %s and major >= %d", b, real.Dir, pgbin.MinMajor)
		}
		if _, err := os.Stat(b.Path("initdb")); err != nil {
			t.Errorf("Path(initdb): %v", err)
		}
	})
	t.Run("EmptyDir", func(t *testing.T) {
		dir := shmDir(t)
		t.Setenv("DB9_PG_BIN", dir)
		_, err := pgbin.Find()
		if err == nil {
			t.Fatal("Find accepted a directory without postgres; it must not fall back to other places")
		}
		if !errors.Is(err, pgbin.ErrNotFound) || !strings.Contains(err.Error(), "DB9_PG_BIN="+dir) {
			t.Errorf("error %q should wrap ErrNotFound and name DB9_PG_BIN=%s", err, dir)
		}
	})
	t.Run("MissingDir", func(t *testing.T) {
		t.Setenv("DB9_PG_BIN", "/nonexistent/db9/bin")
		if _, err := pgbin.Find(); err == nil || !strings.Contains(err.Error(), "DB9_PG_BIN") {
			t.Fatalf("Find error = %v, want one naming DB9_PG_BIN", err)
		}
	})
	t.Run("TooOld", func(t *testing.T) {
		dir := shmDir(t)
		fake := "#!/bin/sh\necho 'postgres (PostgreSQL) 14.9'\n"
		for _, p := range []string{"postgres", "initdb"} {
			if err := os.WriteFile(filepath.Join(dir, p), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("DB9_PG_BIN", dir)
		_, err := pgbin.Find()
		if err == nil || !strings.Contains(err.Error(), "too old") {
			t.Fatalf("Find error = %v, want PostgreSQL 14 refused as too old", err)
		}
	})
	t.Run("Unset", func(t *testing.T) {
		t.Setenv("DB9_PG_BIN", "")
		b, err := pgbin.Find()
		if err != nil {
			t.Fatal(err)
		}
		if b.Major < pgbin.MinMajor {
			t.Errorf("Find = %+v", b)
		}
	})
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestResolveRunAs_Root(t *testing.T) {
	requireRoot(t)
	u, err := user.Lookup(pgbin.DefaultOSUser)
	if err != nil {
		t.Skipf("no %s user: %v", pgbin.DefaultOSUser, err)
	}
	t.Setenv("DB9_OS_USER", "")
	r, err := pgbin.ResolveRunAs()
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	want := pgbin.RunAs{Name: "postgres", UID: uint32(uid), GID: uint32(gid), Root: true}
	if r != want {
		t.Errorf("ResolveRunAs = %+v, want %+v", r, want)
	}
	if r.UID == 0 {
		t.Error("PostgreSQL would run as root")
	}
	a := r.SysProcAttr()
	if a.Credential == nil || a.Credential.Uid != r.UID || a.Credential.Gid != r.GID || !a.Setpgid {
		t.Errorf("SysProcAttr = %+v, want credentials of %d:%d and a process group", a, r.UID, r.GID)
	}
}

func TestResolveRunAs_UnknownUser(t *testing.T) {
	requireRoot(t)
	t.Setenv("DB9_OS_USER", "db9-no-such-user-x")
	_, err := pgbin.ResolveRunAs()
	if err == nil {
		t.Fatal("ResolveRunAs accepted a user that does not exist")
	}
	for _, w := range []string{"db9-no-such-user-x", "useradd", "DB9_OS_USER"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestResolveRunAs_NotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as root")
	}
	r, err := pgbin.ResolveRunAs()
	if err != nil || r.Root || r.UID != uint32(os.Geteuid()) {
		t.Fatalf("ResolveRunAs = %+v, %v; want the current user", r, err)
	}
}

func TestRunAs_CheckReachable(t *testing.T) {
	requireRoot(t)
	_, runAs := pgtest.Env(t)
	if !runAs.Root {
		t.Skip("not switching users")
	}
	tests := []struct {
		name      string
		mode      os.FileMode
		owner     func() (uid, gid int)
		reachable bool
	}{
		{"RootOwned0700", 0o700, func() (int, int) { return 0, 0 }, false},
		{"RootOwned0750", 0o750, func() (int, int) { return 0, 0 }, false},
		{"RootOwned0755", 0o755, func() (int, int) { return 0, 0 }, true},
		{"RootOwned0711", 0o711, func() (int, int) { return 0, 0 }, true},
		{"PostgresOwned0700", 0o700, func() (int, int) { return int(runAs.UID), 0 }, true},
		{"PostgresGroup0710", 0o710, func() (int, int) { return 0, int(runAs.GID) }, true},
		{"PostgresGroup0700", 0o700, func() (int, int) { return 0, int(runAs.GID) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			locked := filepath.Join(shmDir(t), "locked")
			if err := os.Mkdir(locked, 0o755); err != nil {
				t.Fatal(err)
			}
			uid, gid := tt.owner()
			if err := os.Chown(locked, uid, gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(locked, tt.mode); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(locked, "db9-data")
			err := runAs.CheckReachable(data)
			if tt.reachable {
				if err != nil {
					t.Fatalf("CheckReachable: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckReachable accepted %s under a %o directory", data, tt.mode)
			}
			// The message must say what is wrong and what to do.
			for _, w := range []string{locked, "postgres", "--data-dir", "chmod o+x"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRunAs_CheckReachable_Deep(t *testing.T) {
	requireRoot(t)
	_, runAs := pgtest.Env(t)
	if !runAs.Root {
		t.Skip("not switching users")
	}
	base := shmDir(t)
	deep := filepath.Join(base, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runAs.CheckReachable(filepath.Join(deep, "data")); err != nil {
		t.Fatalf("reachable tree refused: %v", err)
	}
	// A locked ancestor several levels up still blocks.
	if err := os.Chmod(filepath.Join(base, "a"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := runAs.CheckReachable(filepath.Join(deep, "data")); err == nil {
		t.Fatal("a 0700 ancestor two levels up was not noticed")
	}
	// A relative path is checked as its absolute form.
	t.Chdir(deep)
	if err := runAs.CheckReachable("data"); err == nil {
		t.Fatal("relative path under a locked ancestor was not noticed")
	}
}

func TestRunAs_CheckReachable_NotSwitching(t *testing.T) {
	var r pgbin.RunAs // the current user
	if err := r.CheckReachable("/root/somewhere/data"); err != nil {
		t.Fatalf("CheckReachable for the current user: %v", err)
	}
}
