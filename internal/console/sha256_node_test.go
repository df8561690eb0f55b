package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConsole_SHA256Fallback runs the console's JavaScript SHA-256 (used
// where the page has no crypto.subtle, as over plain http to a private
// address) in node against Go's, at every padding boundary and beyond.
// The browser test exercises WebCrypto only, as 127.0.0.1 is a secure
// context.
func TestConsole_SHA256Fallback(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true")
		}
		t.Skip("node not installed")
	}
	src, err := static.ReadFile("static/assets/sha256.js")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// .mjs: node loads it as an ES module without a package.json.
	if err := os.WriteFile(filepath.Join(dir, "sha256.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 1<<20 + 17}
	list := make([]string, len(sizes))
	for i, n := range sizes {
		list[i] = strconv.Itoa(n)
	}
	script := `import { sha256Hex } from './sha256.mjs';
for (const n of [` + strings.Join(list, ", ") + `]) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) b[i] = (i * 131 + 7) & 255;
  console.log(sha256Hex(b));
}
`
	if err := os.WriteFile(filepath.Join(dir, "run.mjs"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node run.mjs: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(sizes) {
		t.Fatalf("node printed %d hashes for %d inputs:\n%s", len(got), len(sizes), out)
	}
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(j*131 + 7)
		}
		sum := sha256.Sum256(b)
		if want := hex.EncodeToString(sum[:]); got[i] != want {
			t.Errorf("%d bytes: JavaScript %s, Go %s", n, got[i], want)
		}
	}
}
