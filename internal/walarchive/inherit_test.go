package walarchive_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/db9/db9/internal/walarchive"
)

// A branch inherits its source's backup and the WAL from the backup's
// start on (history files too) as links that outlive the source.
func TestLocal_InheritBackup(t *testing.T) {
	ctx := context.Background()
	s := mustLocal(t)
	for _, seg := range []string{"000000010000000000000003", "000000010000000000000005", "000000010000000000000006", "00000002.history"} {
		if err := s.PutWAL(ctx, "src", seg, writeFile(t, "wal "+seg)); err != nil {
			t.Fatal(err)
		}
	}
	stage, err := s.StagingDir(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(stage, "base", "1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "base", "1", "1259"), []byte("pages"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := walarchive.Backup{Name: walarchive.BackupName(time.Now(), "000000010000000000000005"), StartWAL: "000000010000000000000005",
		Consistent: time.Now().UTC(), Bytes: 5}
	if err := s.PutBackup(ctx, "src", b, stage); err != nil {
		t.Fatal(err)
	}

	if err := s.InheritBackup(ctx, "src", "branch", b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDatabase(ctx, "src"); err != nil { // the source goes away
		t.Fatal(err)
	}
	names, err := s.ListWAL(ctx, "branch")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"000000010000000000000005", "000000010000000000000006", "00000002.history"}
	if !slices.Equal(names, want) {
		t.Fatalf("branch WAL = %v, want %v (segments before the backup's start left out)", names, want)
	}
	bs, err := s.ListBackups(ctx, "branch")
	if err != nil || len(bs) != 1 || bs[0].StartWAL != b.StartWAL || bs[0].Name != b.Name {
		t.Fatalf("branch backups = %+v, %v; want the inherited one", bs, err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := s.GetBackup(ctx, "branch", b.Name, dir); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "base", "1", "1259")); err != nil || string(got) != "pages" {
		t.Fatalf("restored file = %q, %v", got, err)
	}
	seg := filepath.Join(t.TempDir(), "seg6")
	if err := s.GetWAL(ctx, "branch", "000000010000000000000006", seg); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(seg); string(got) != "wal 000000010000000000000006" {
		t.Fatalf("inherited segment content %q", got)
	}
}
