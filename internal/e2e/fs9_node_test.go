package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fs9sdkDir is the npm project of the fs9 client-contract test (ws).
func fs9sdkDir(t *testing.T) string {
	t.Helper()
	return npmProject(t, "fs9sdk", "ws", "fs9's published client contract")
}

// TestFS9_NodeSDKContract is DB9's published client contract: a Node
// client built on ws, as DB9's TypeScript SDK is,
// dials the fs9 listener at path / with the admin password from
// /credentials and does write, read, readdir, stat, exists (stat and
// ENOENT), mkdir and rm, and a 3 MiB file streamed up and down with
// SHA-256 checked. What it leaves behind is then read through SQL.
func TestFS9_NodeSDKContract(t *testing.T) {
	dir := fs9sdkDir(t)
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("fs9node")
	var cred struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+db.ID+"/credentials", nil, 200, &cred)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "sdk_test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FS9_URL=ws://"+s.FS9Addr+"/", "FS9_USER="+db.ID+".admin", "FS9_PASSWORD="+cred.AdminPassword)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node sdk_test.mjs: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node sdk_test.mjs printed %q, want ok", out)
	}

	// The same files, seen through SQL.
	if got := c.MustSQL(db.ID, "select fs9_read('/sdk/notes/hello.bin')").Rows[0][0]; got != "v2" {
		t.Errorf("fs9_read of the file node wrote = %q, want v2", got)
	}
	if got := c.MustSQL(db.ID, "select fs9_read('/sdk/many/f7')").Rows[0][0]; got != "file 7" {
		t.Errorf("fs9_read('/sdk/many/f7') = %q", got)
	}
	if got := c.MustSQL(db.ID, "select fs9_exists('/sdk/big.bin')").Rows[0][0]; got != false {
		t.Errorf("fs9_exists of the file node removed = %v", got)
	}
}
