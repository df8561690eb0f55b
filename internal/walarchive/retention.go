package walarchive

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// IsSegment reports whether name is a WAL segment file name (24 hex digits).
func IsSegment(name string) bool {
	if len(name) != 24 {
		return false
	}
	for _, c := range name {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// position is the timeline-independent part of a segment-based file name
// (segment, .partial or .backup), or "" for others (.history files).
func position(name string) string {
	if len(name) < 24 || !IsSegment(name[:24]) {
		return ""
	}
	return name[8:24]
}

// SegmentsAfter counts the archived segments whose position is after the
// segment start (on any timeline): the WAL a restore from a backup that
// starts at start would replay at most.
func SegmentsAfter(names []string, start string) int {
	p := position(start)
	n := 0
	for _, name := range names {
		if IsSegment(name) && name[8:] > p {
			n++
		}
	}
	return n
}

// ChooseBackup returns the newest backup that can serve target: the one
// consistent at or before it, so replay is shortest.
func ChooseBackup(backups []Backup, target time.Time) (Backup, error) {
	for i := len(backups) - 1; i >= 0; i-- {
		if !backups[i].Consistent.After(target) {
			return backups[i], nil
		}
	}
	return Backup{}, fmt.Errorf("no base backup consistent at %s: %w", target.UTC().Format(time.RFC3339Nano), ErrNotFound)
}

// Earliest returns the earliest time the archive can restore to, or the
// zero time when it holds no backup.
func Earliest(backups []Backup) time.Time {
	if len(backups) == 0 {
		return time.Time{}
	}
	return backups[0].Consistent
}

// Prune drops what no restore to a moment at or after cutoff needs: every
// backup older than the newest one consistent at or before cutoff, and
// the WAL before the oldest backup kept. History files are kept (tiny,
// and needed to follow timelines).
func Prune(ctx context.Context, s Store, db string, cutoff time.Time) (backups, wal int, err error) {
	bs, err := s.ListBackups(ctx, db)
	if err != nil || len(bs) == 0 {
		return 0, 0, err
	}
	keep := 0
	for i, b := range bs {
		if !b.Consistent.After(cutoff) {
			keep = i
		}
	}
	for _, b := range bs[:keep] {
		if err := s.DeleteBackup(ctx, db, b.Name); err != nil {
			return backups, 0, err
		}
		backups++
	}
	from := position(bs[keep].StartWAL)
	if from == "" {
		return backups, 0, nil
	}
	names, err := s.ListWAL(ctx, db)
	if err != nil {
		return backups, 0, err
	}
	var drop []string
	for _, n := range names {
		if p := position(n); p != "" && p < from && !strings.HasSuffix(n, ".history") {
			drop = append(drop, n)
		}
	}
	if err := s.DeleteWAL(ctx, db, drop); err != nil {
		return backups, 0, err
	}
	return backups, len(drop), nil
}
