package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/db9/db9/internal/backup"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/walarchive"
)

// walStage is the WAL a restore replays from its source's archive
// (walarchive.ReplayFiles), copied into the new data directory's pg_wal
// ahead of replay, which then runs in standby mode and reads only pg_wal:
// archive recovery would run restore_command (a shell and a cp) for every
// segment and for every timeline-history probe.
//
// At most a window of segments is staged ahead of the one being replayed,
// so a restore that replays much WAL does not hold it all on disk at once:
// feed follows replay and stages more (PostgreSQL removes replayed
// segments at its restartpoints).
type walStage struct {
	store  *walarchive.Local
	chown  func(string) error // to the OS user of postgres
	source string
	wal    string   // the new pg_wal
	files  []string // history files first, then segments by position
	nums   []uint64 // segment number of files[i] (0 for history files)
	next   int      // files[:next] are staged
	ahead  uint64   // segments staged beyond the one being replayed
	bytes  int64    // all segments, staged or not
}

// planStage lists what a restore from b replays of source's archive. It
// returns nil (use archive recovery) when staging is off or the segments
// have a gap: standby mode would wait at a gap for WAL that never comes,
// while archive recovery stops there and fails cleanly if the target lies
// beyond.
func planStage(ctx context.Context, a *backup.Archiving, chown func(string) error, source string, b walarchive.Backup, data string) (*walStage, error) {
	limit := a.StageLimit()
	if limit < 0 {
		return nil, nil
	}
	names, err := a.Store.ListWAL(ctx, source)
	if err != nil {
		return nil, err
	}
	files := walarchive.ReplayFiles(names, b.StartWAL)
	if !walarchive.Contiguous(files, backup.WALSegmentBytes) {
		return nil, nil
	}
	sort.SliceStable(files, func(i, j int) bool { return stageBefore(files[i], files[j]) })
	s := &walStage{store: a.Store, chown: chown, source: source, wal: filepath.Join(data, "pg_wal"), files: files, ahead: uint64(max(limit/backup.WALSegmentBytes, 1))}
	for _, f := range files {
		n, ok := walarchive.SegmentNumber(f, backup.WALSegmentBytes)
		if ok {
			s.bytes += backup.WALSegmentBytes
		}
		s.nums = append(s.nums, n)
	}
	return s, nil
}

// stageBefore orders history files first, then segments by position and
// timeline.
func stageBefore(a, b string) bool {
	ha, hb := strings.HasSuffix(a, ".history"), strings.HasSuffix(b, ".history")
	if ha != hb {
		return ha
	}
	if ha {
		return a < b
	}
	return a[8:] < b[8:] || a[8:] == b[8:] && a < b
}

// firstSegments is at most what is staged before replay starts; feed
// stages the rest of the window while replay runs (on another core).
const firstSegments = 32

// first stages the history files and the first segments.
func (s *walStage) first(ctx context.Context) error {
	for _, n := range s.nums {
		if n != 0 {
			return s.upTo(ctx, n+min(s.ahead, firstSegments)-1)
		}
	}
	return s.upTo(ctx, 0)
}

// upTo stages every file up to segment number last. The archived version
// of a segment replaces what the base backup brought (the backup's own last
// segment ends where the backup did). A file appears under its name only
// complete and owned by the instance's OS user: replay may be reading
// pg_wal meanwhile.
func (s *walStage) upTo(ctx context.Context, last uint64) error {
	for ; s.next < len(s.files) && s.nums[s.next] <= last; s.next++ {
		f := s.files[s.next]
		tmp := filepath.Join(s.wal, ".db9-stage-"+f)
		if err := s.store.GetWAL(ctx, s.source, f, tmp); err != nil {
			return fmt.Errorf("stage WAL %s: %w", f, err)
		}
		if err := s.chown(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(s.wal, f)); err != nil {
			return fmt.Errorf("stage WAL %s: %w", f, err)
		}
		if walarchive.IsSegment(f) {
			// Archived already (markArchived says why), also when staged
			// after the start.
			if err := markSegmentArchived(s.wal, f, s.chown); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *walStage) done() bool { return s.next == len(s.files) }

// feed keeps the window ahead of replay until everything is staged or ctx
// ends: every few ms it reads which segment the startup process is on
// from its process title ("postgres: startup recovering <segment>", or
// "waiting for <segment>" when it got ahead of the window, which it
// retries every wal_retrieve_retry_interval). Where the title cannot be
// read, it stages the rest at once: correct, only without the bound.
func (s *walStage) feed(ctx context.Context, data string) error {
	startup := 0
	blind := time.Now()
	for !s.done() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Millisecond):
		}
		if startup == 0 {
			startup = startupProcess(data)
		}
		seg := ""
		if startup != 0 {
			if title, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(startup), "cmdline")); err == nil {
				f := strings.Fields(string(bytes.TrimRight(title, "\x00 ")))
				if len(f) > 0 && walarchive.IsSegment(f[len(f)-1]) {
					seg = f[len(f)-1]
				}
			} else {
				startup = 0
			}
		}
		n, ok := walarchive.SegmentNumber(seg, backup.WALSegmentBytes)
		if !ok {
			if time.Since(blind) > 5*time.Second {
				return s.upTo(ctx, ^uint64(0))
			}
			continue
		}
		blind = time.Now()
		if err := s.upTo(ctx, n+s.ahead); err != nil {
			return err
		}
	}
	return nil
}

// startupProcess finds the startup process of the postmaster running on
// data (0 if there is none yet).
func startupProcess(data string) int {
	pm := postgres.PostmasterPid(data)
	if pm == 0 {
		return 0
	}
	if pids := postgres.Children(pm, "postgres: startup"); len(pids) > 0 {
		return pids[0]
	}
	return 0
}
