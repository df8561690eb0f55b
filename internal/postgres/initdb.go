package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/db9/db9/internal/pgbin"
)

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
