package backup

import (
	"context"
	"time"

	"github.com/db9/db9/internal/walarchive"
)

// Schedule decides when a database is due a base backup, remembering the
// pace of the backups it took. It is used by one goroutine.
type Schedule struct {
	a     *Archiving
	paces map[string]backupPace
}

// NewSchedule returns an empty schedule.
func (a *Archiving) NewSchedule() *Schedule {
	return &Schedule{a: a, paces: map[string]backupPace{}}
}

// Due reports whether running database id needs a base backup now: its
// archive has BackupAfterWAL bytes, and at least its last base backup's
// size, past it, or quietBackupWAL (and 1/quietBackupShare of its size)
// past it and went quiet, or its last base backup is older than
// BackupMaxAge while it wrote WAL since — and its last scheduled backup
// ended at least backupDutyCycle times its duration ago.
func (s *Schedule) Due(ctx context.Context, id string) bool {
	pace := s.paces[id]
	if pace.resting(time.Now()) {
		return false
	}
	bs, err := s.a.Store.ListBackups(ctx, id)
	if err != nil || len(bs) == 0 {
		return false
	}
	last := bs[len(bs)-1]
	names, err := s.a.Store.ListWAL(ctx, id)
	if err != nil {
		return false
	}
	n := walarchive.SegmentsAfter(names, last.StartWAL)
	due := s.a.backupDue(last, n, pace.segs, time.Now())
	pace.segs = n
	s.paces[id] = pace
	return due
}

// Took records a scheduled backup of id that started at start and ended now.
func (s *Schedule) Took(id string, start time.Time) {
	s.paces[id] = backupPace{end: time.Now(), took: time.Since(start)}
}

// Keep forgets the databases not in alive.
func (s *Schedule) Keep(alive map[string]bool) {
	for id := range s.paces {
		if !alive[id] {
			delete(s.paces, id)
		}
	}
}

// backupPace is when a database's last scheduled base backup ended and how
// long it took, and how many WAL segments past its last backup the
// archive held at the previous look.
type backupPace struct {
	end  time.Time
	took time.Duration
	segs int
}

// A database that wrote at least quietBackupWAL, and 1/quietBackupShare of
// its last base backup's size, of WAL since that backup and is quiet
// (under one segment since the previous look) is backed up at once, while
// nobody competes for the machine: after a bulk load, moments later than
// the load replay from a backup that already holds it, and under slow
// steady writes a branch at "now" replays minutes of WAL, not hours. A
// backup then costs at most quietBackupShare times the bytes of WAL it
// saves replaying.
const (
	quietBackupWAL   = 4 << 20
	quietBackupShare = 32
)

// resting reports whether the database's last scheduled backup ended less
// than backupDutyCycle times its duration before now.
func (p backupPace) resting(now time.Time) bool {
	return now.Sub(p.end) < backupDutyCycle*p.took
}

// backupDue decides whether a database needs a new base backup: last is
// its newest, n the WAL segments archived past it now, prev how many there
// were at the previous look (0: no previous look).
func (a *Archiving) backupDue(last walarchive.Backup, n, prev int, now time.Time) bool {
	wal := int64(n) * WALSegmentBytes
	quiet := prev > 0 && n-prev <= 1
	// Replaying more WAL than the database's size costs more than
	// copying it; backing up more often than that costs the writers.
	return wal >= max(a.BackupAfterWAL, last.Bytes) ||
		(quiet && wal >= max(quietBackupWAL, last.Bytes/quietBackupShare)) ||
		(a.BackupMaxAge > 0 && n > 1 && now.Sub(last.Consistent) >= a.BackupMaxAge)
}

// backupDutyCycle bounds scheduled base backups of one database to about
// 1/backupDutyCycle of the wall clock: a backup reads and writes the whole
// database, so under steady writes (which make WAL fast) backing up as
// often as the WAL threshold alone allows would cost the writers a
// quarter of their throughput on 2 cores.
const backupDutyCycle = 20
