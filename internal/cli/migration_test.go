package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/client"
)

func TestReadMigrations_OrderAndChecksum(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"0010_ten.sql": "select 10;", "0002_two.sql": "select 2;", "0001_one.sql": "select 1;",
		"README.md": "not a migration", "0003_notes.txt": "not one either",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	ms, err := readMigrations(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if diff := cmp.Diff([]string{"0001_one", "0002_two", "0010_ten"}, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256([]byte("select 1;"))
	if ms[0].Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum %s", ms[0].Checksum)
	}

	os.WriteFile(filepath.Join(dir, "0002_again.sql"), []byte("x"), 0o644)
	if _, err := readMigrations(dir); err == nil {
		t.Error("two migrations numbered 2: no error")
	}
	if _, err := readMigrations(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestCompareMigrations(t *testing.T) {
	now := time.Now()
	local := []migrationFile{{Name: "0001_a", Checksum: "aa"}, {Name: "0002_b", Checksum: "bb"}, {Name: "0003_c", Checksum: "cc"}}
	applied := []client.Migration{{Name: "0001_a", Checksum: "aa", AppliedAt: &now}, {Name: "0002_b", Checksum: "XX", AppliedAt: &now},
		{Name: "0000_gone", Checksum: "gg", AppliedAt: &now}}
	got := map[string]string{}
	for _, s := range compareMigrations(local, applied) {
		got[s.Name] = s.Status
	}
	want := map[string]string{"0001_a": "applied", "0002_b": "modified", "0003_c": "pending", "0000_gone": "missing_locally"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}
