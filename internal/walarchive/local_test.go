package walarchive_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/walarchive"
)

func mustLocal(t *testing.T) *walarchive.Local {
	t.Helper()
	base := "/dev/shm"
	if _, err := os.Stat(base); err != nil {
		base = ""
	}
	dir, err := os.MkdirTemp(base, "walarchive-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &walarchive.Local{Root: dir}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seg")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLocal_PutWAL_SameContentOK_OtherContentRefused(t *testing.T) {
	ctx := context.Background()
	s := mustLocal(t)
	const seg = "000000010000000000000003"
	if err := s.PutWAL(ctx, "db1", seg, writeFile(t, "one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutWAL(ctx, "db1", seg, writeFile(t, "one")); err != nil {
		t.Fatalf("archiving the same content again: %v", err)
	}
	if err := s.PutWAL(ctx, "db1", seg, writeFile(t, "two")); !errors.Is(err, walarchive.ErrConflict) {
		t.Fatalf("archiving other content under the same name: %v, want ErrConflict", err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if err := s.GetWAL(ctx, "db1", seg, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "one" {
		t.Fatalf("restored %q, want the first content", b)
	}
	if err := s.GetWAL(ctx, "db1", "000000010000000000000004", dst); !errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("missing segment: %v, want ErrNotFound", err)
	}
	if names, _ := s.ListWAL(ctx, "db1"); !slices.Equal(names, []string{seg}) {
		t.Fatalf("ListWAL = %v (temporary files must not show)", names)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if err := s.PutWAL(ctx, "db1", bad, writeFile(t, "x")); err == nil {
			t.Errorf("PutWAL accepted name %q", bad)
		}
	}
}

func TestPrune_KeepsWhatTheWindowNeeds(t *testing.T) {
	ctx := context.Background()
	s := mustLocal(t)
	now := time.Now()
	seg := func(n string) string { return "00000001000000000000000" + n }
	for _, n := range []string{"1", "2", "3", "4", "5", "6"} {
		if err := s.PutWAL(ctx, "db", seg(n), writeFile(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutWAL(ctx, "db", "00000002.history", writeFile(t, "h")); err != nil {
		t.Fatal(err)
	}
	backups := []walarchive.Backup{
		{Name: "a", Golden: "v1", StartWAL: seg("1"), Consistent: now.Add(-10 * time.Hour)},
		{Name: "b", StartWAL: seg("3"), Consistent: now.Add(-5 * time.Hour)},
		{Name: "c", StartWAL: seg("5"), Consistent: now.Add(-1 * time.Hour)},
	}
	for _, b := range backups {
		dir := ""
		if b.Golden == "" {
			var err error
			if dir, err = s.StagingDir(ctx, "db"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutBackup(ctx, "db", b, dir); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := walarchive.ChooseBackup(backups, now.Add(-2*time.Hour)); err != nil || b.Name != "b" {
		t.Fatalf("ChooseBackup(-2h) = %v, %v; want b", b.Name, err)
	}
	if _, err := walarchive.ChooseBackup(backups, now.Add(-11*time.Hour)); !errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("ChooseBackup before the first backup: %v", err)
	}
	// A 3-hour window needs b (consistent before the window starts) and what follows.
	nb, nw, err := walarchive.Prune(ctx, s, "db", now.Add(-3*time.Hour))
	if err != nil || nb != 1 || nw != 2 {
		t.Fatalf("Prune = %d backups, %d wal, %v; want 1, 2", nb, nw, err)
	}
	bs, _ := s.ListBackups(ctx, "db")
	if len(bs) != 2 || bs[0].Name != "b" {
		t.Fatalf("backups after prune: %+v", bs)
	}
	names, _ := s.ListWAL(ctx, "db")
	if !slices.Equal(names, []string{seg("3"), seg("4"), seg("5"), seg("6"), "00000002.history"}) {
		t.Fatalf("wal after prune: %v", names)
	}
	if got := walarchive.SegmentsAfter(names, seg("4")); got != 2 {
		t.Fatalf("SegmentsAfter = %d, want 2", got)
	}
}

func TestReplayFiles(t *testing.T) {
	names := []string{ // sorted, as ListWAL returns them
		"000000010000000000000003",
		"000000010000000000000004",
		"000000010000000000000004.00000028.backup",
		"000000010000000000000005",
		"000000010000000000000005.partial",
		"000000010000000000000006", // the parent went on after the branch point
		"00000002.history",
		"000000020000000000000005",
		"000000020000000000000006",
	}
	got := walarchive.ReplayFiles(names, "000000010000000000000004")
	want := []string{
		"000000010000000000000004",
		"000000010000000000000005",
		"000000010000000000000006",
		"00000002.history",
		"000000020000000000000005",
		"000000020000000000000006",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReplayFiles from segment 4 (-want +got):\n%s", diff)
	}
	if got := walarchive.ReplayFiles(names, "000000020000000000000007"); !slices.Equal(got, []string{"00000002.history"}) {
		t.Errorf("ReplayFiles past the end = %v, want only the history file", got)
	}
}

func TestContiguous(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		names []string
		want  bool
	}{
		{nil, true},
		{[]string{"00000002.history"}, true},
		{[]string{"000000010000000000000004", "000000010000000000000005", "00000002.history", "000000020000000000000005", "000000020000000000000006"}, true},
		{[]string{"000000010000000000000004", "00000002.history", "000000020000000000000006"}, false},
		{[]string{"000000010000000000000FFF", "000000010000000100000000"}, true}, // next log file
		{[]string{"000000010000000000000FFE", "000000010000000100000000"}, false},
		{[]string{"000000010000000000001000"}, false}, // no such segment with 1 MB segments
	} {
		if got := walarchive.Contiguous(tc.names, mb); got != tc.want {
			t.Errorf("Contiguous(%v) = %v, want %v", tc.names, got, tc.want)
		}
	}
}
