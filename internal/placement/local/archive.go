package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/db9/db9/internal/backup"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/walarchive"
)

// archiver ties the local instances to their history (backup.Archiving):
// their archiving settings, a WAL switch before every stop, the golden
// copy recorded as each one's first base backup, and the loop that takes
// scheduled base backups and applies the retention window.
type archiver struct {
	a         *backup.Archiving
	lay       layout.Layout
	runAs     pgbin.RunAs
	bin       pgbin.Bin
	log       *slog.Logger
	backupLog *slog.Logger // given to package backup: its lines are component backup
	sup       *supervisor
	gold      *goldens
	// goldenRedo is the WAL segment of the golden directory's checkpoint,
	// where replay from a golden base backup starts.
	goldenRedo string
}

// settings are instance id's archiving settings (-c flags at start).
func (r *archiver) settings(id string) map[string]string {
	return r.a.InstanceSettings(id, func(p string) string { return r.fromData(id, p) }, r.backupLog)
}

// fromData returns path relative to instance id's data directory (the
// working directory of postgres and of the commands it runs) when it lies
// under the platform's data directory: settings are readable by the
// tenant and must not name the host's layout.
func (r *archiver) fromData(id, path string) string {
	return backup.RelativeTo(r.lay.DataDir, r.lay.DB(id).Data, path)
}

// switchWAL closes the current WAL segment so the archiver takes it:
// called before an instance is stopped on purpose, so the archive holds
// everything committed (the shutdown then waits for the archiver's last
// cycle). in.mu is held.
func (r *archiver) switchWAL(in *inst) {
	if in.pm == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := connect(ctx, in, placement.Superuser)
	if err != nil {
		r.log.Warn("switch wal before stop", logkey.DB, in.id, logkey.Err, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()").ReadAll(); err != nil {
		r.log.Warn("switch wal before stop", logkey.DB, in.id, logkey.Err, err)
	}
}

// recordGoldenBackup records, for a new instance copied from the golden
// directory, that copy as its first base backup. Without archiving (r is
// nil) there is nothing to record.
func (r *archiver) recordGoldenBackup(ctx context.Context, id string) error {
	if r == nil {
		return nil
	}
	now := time.Now()
	b := walarchive.Backup{Name: walarchive.BackupName(now, r.goldenRedo), Golden: r.gold.recipe, StartWAL: r.goldenRedo, Consistent: now}
	if err := r.a.Store.PutBackup(ctx, id, b, ""); err != nil {
		return fmt.Errorf("record golden base backup: %w", err)
	}
	return nil
}

// open prepares the archive at Open: its root owned by the OS user of
// postgres, archives of instances that are gone removed (those of
// directories Open removes go with them), half-written backups dropped.
func (r *archiver) open(ctx context.Context, keep map[string]bool) error {
	s := r.a.Store
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return err
	}
	if err := r.runAs.Chown(s.Root); err != nil {
		return err
	}
	redo, err := postgres.RedoSegment(ctx, r.bin, r.gold.dir)
	if err != nil {
		return fmt.Errorf("golden checkpoint: %w", err)
	}
	r.goldenRedo = redo
	dbs, err := s.Databases(ctx)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		if !keep[db] {
			if err := s.DeleteDatabase(ctx, db); err != nil {
				return err
			}
			continue
		}
		if err := s.RemoveIncomplete(db); err != nil {
			return err
		}
	}
	return r.gold.prune(ctx)
}

// maintain takes base backups of running instances that are due one
// (backup.Schedule), and prunes history older than the retention window,
// until quit.
func (r *archiver) maintain(quit <-chan struct{}) {
	sched := r.a.NewSchedule()
	every := r.a.MaintainEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // a backup in progress ends at Close
		<-quit
		cancel()
	}()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		r.backupDue(ctx, sched)
		if time.Since(lastPrune) >= max(every, time.Minute) || r.a.Retention < time.Hour {
			lastPrune = time.Now()
			r.a.Prune(ctx, r.backupLog)
			if err := r.gold.prune(ctx); err != nil {
				r.log.Warn("prune golden directories", logkey.Err, err)
			}
		}
	}
}

// backupDue backs up every running, committed instance the schedule says
// is due, holding it running meanwhile.
func (r *archiver) backupDue(ctx context.Context, sched *backup.Schedule) {
	alive := map[string]bool{}
	for _, in := range r.sup.committed() {
		alive[in.id] = true
		pm := r.sup.pid(in.id)
		if pm == 0 || !sched.Due(ctx, in.id) || !r.sup.hold(in) {
			continue
		}
		start := time.Now()
		_, err := r.a.Take(ctx, r.bin, r.runAs, backup.Source{ID: in.id, SocketDir: in.cl.SocketDir, Postmaster: pm}, r.backupLog)
		r.sup.release(in)
		sched.Took(in.id, start)
		r.sup.events.backedUp(time.Since(start), err)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("scheduled base backup", logkey.DB, in.id, logkey.Err, err)
		}
	}
	sched.Keep(alive)
}

// archiveThrough makes sure the archive holds every transaction instance
// in committed so far, and (for a recovery target time in the past) one
// commit after it: it commits an empty transaction, whose commit record is
// later than anything before now, switches to a new WAL segment and waits
// until the archiver has stored the finished one. Replay to a target time
// stops at the first commit after the target; without one in the archive
// PostgreSQL would refuse to finish recovery. The caller holds a lease.
func (r *archiver) archiveThrough(ctx context.Context, in *inst) error {
	conn, err := connect(ctx, in, placement.Superuser)
	if err != nil {
		return fmt.Errorf("connect %s: %w", in.id, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := conn.Exec(ctx, "BEGIN; SELECT pg_current_xact_id(); COMMIT; SELECT pg_walfile_name(pg_switch_wal())").ReadAll()
	if err != nil {
		return fmt.Errorf("switch wal of %s: %w", in.id, err)
	}
	last := res[len(res)-1]
	if len(last.Rows) != 1 {
		return fmt.Errorf("switch wal of %s: no segment name", in.id)
	}
	return r.a.WaitArchived(ctx, in.id, string(last.Rows[0][0]))
}
