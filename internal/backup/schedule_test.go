package backup

import (
	"testing"
	"time"

	"github.com/db9/db9/internal/walarchive"
)

// The scheduling rules of base backups (ADR 0002, amendment of
// 2026-11-27), case by case.
func TestBackupDue_Rules(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a := &Archiving{BackupAfterWAL: 64 << 20, BackupMaxAge: 24 * time.Hour}
	small := walarchive.Backup{Bytes: 30 << 20, Consistent: now.Add(-time.Minute)}
	big := walarchive.Backup{Bytes: 1 << 30, Consistent: now.Add(-time.Minute)}
	cases := []struct {
		name    string
		last    walarchive.Backup
		n, prev int
		want    bool
	}{
		{"64 MB of WAL past a small backup", small, 64, 60, true},
		{"63 MB, still writing", small, 63, 40, false},
		{"past 64 MB but under the backup's size", big, 200, 100, false},
		{"as much WAL as the backup's size", big, 1024, 1000, true},
		{"quiet after 4 MB", small, 4, 4, true},
		{"quiet after 3 MB", small, 3, 3, false},
		{"4 MB but still writing", small, 4, 2, false},
		{"quiet, first look (no previous count)", small, 4, 0, false},
		{"quiet, under 1/32 of a large backup", big, 31, 31, false},
		{"quiet, 1/32 of a large backup", big, 32, 31, true},
	}
	for _, c := range cases {
		if got := a.backupDue(c.last, c.n, c.prev, now); got != c.want {
			t.Errorf("%s: due = %v, want %v", c.name, got, c.want)
		}
	}
	old := walarchive.Backup{Bytes: 30 << 20, Consistent: now.Add(-25 * time.Hour)}
	if !a.backupDue(old, 2, 0, now) {
		t.Error("a backup older than BackupMaxAge with new WAL since: not due")
	}
	if a.backupDue(old, 1, 0, now) {
		t.Error("a backup older than BackupMaxAge without new WAL: due")
	}
}

// A database's scheduled backups take at most ~1/backupDutyCycle of the
// wall clock.
func TestBackupPace_Resting(t *testing.T) {
	end := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := backupPace{end: end, took: 500 * time.Millisecond}
	if !p.resting(end.Add(9 * time.Second)) {
		t.Error("9 s after a 0.5 s backup: not resting")
	}
	if p.resting(end.Add(10 * time.Second)) {
		t.Error("10 s after a 0.5 s backup: still resting")
	}
	if (backupPace{}).resting(end) {
		t.Error("no backup yet: resting")
	}
}
