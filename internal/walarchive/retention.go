package walarchive

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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

// ReplayFiles returns, of an archive's sorted file names, those a restore
// from a base backup that starts at segment start may read: the segments
// from start's position on, on every timeline (the history files tell
// recovery which one to follow where), and every timeline history file.
func ReplayFiles(names []string, start string) []string {
	p := position(start)
	var out []string
	for _, name := range names {
		if IsSegment(name) && name[8:] >= p || strings.HasSuffix(name, ".history") {
			out = append(out, name)
		}
	}
	return out
}

// SegmentNumber returns the timeline-independent number of a segment file
// name (segBytes: the WAL segment size), consecutive across log files.
func SegmentNumber(name string, segBytes int64) (uint64, bool) {
	if !IsSegment(name) {
		return 0, false
	}
	perLog := uint64(0x100000000 / segBytes)
	log, err1 := strconv.ParseUint(name[8:16], 16, 32)
	seg, err2 := strconv.ParseUint(name[16:24], 16, 32)
	if err1 != nil || err2 != nil || seg >= perLog {
		return 0, false
	}
	return log*perLog + seg, true
}

// Contiguous reports whether the segments among names (ReplayFiles' result)
// leave no position out between the first and the last, on whichever
// timelines: replay can then read on to the last one. segBytes is the WAL
// segment size.
func Contiguous(names []string, segBytes int64) bool {
	var ns []uint64
	for _, name := range names {
		if !IsSegment(name) {
			continue
		}
		n, ok := SegmentNumber(name, segBytes)
		if !ok {
			return false
		}
		ns = append(ns, n)
	}
	slices.Sort(ns)
	ns = slices.Compact(ns) // the same position on several timelines
	for i := 1; i < len(ns); i++ {
		if ns[i] != ns[i-1]+1 {
			return false
		}
	}
	return true
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
