package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// npmProject returns the directory of the npm project testdata/<project>
// (its package-lock.json pins the packages; scripts/setup runs npm ci
// there, and so does this when module is not installed yet). Without node
// the test fails under CI=true and is skipped elsewhere, saying that what
// is not tested.
func npmProject(t *testing.T, project, module, what string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true")
		}
		t.Skip("node not installed: " + what + " not tested")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", project))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", module)); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	return dir
}
