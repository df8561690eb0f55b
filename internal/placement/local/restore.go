package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/walarchive"
)

// Restore implements placement.Provisioner: instance id made from Source's
// archive — the newest base backup consistent at or before Time, replay of
// the archived WAL (staged into pg_wal ahead of replay, or fetched by
// restore_command) with recovery_target_time = Time (inclusive),
// promotion, the admin password, and a first base backup of the new
// instance itself (inherited from Source's as hard links), so that from
// then on it depends on nothing of Source. Like Provision, the result is
// uncommitted. Any earlier attempt under id is removed first.
//
// The steps run in this order; what runs beside them is started by one
// step and waited for by a later one (or by fail):
//
//	begin   archive Source through Time   ┐ (goroutine: archiveSource,
//	        choose the base backup        │  waited for by stage)
//	copy    copy the base backup          ┘
//	        inherit Source's backup       ┐ (goroutine, waited for by finish)
//	stage   stage the first WAL           │
//	replay  start postgres, feed the rest │ (goroutine: feed, waited for by replay)
//	finish  settings back, password       ┘
func (d *Driver) Restore(ctx context.Context, id string, t placement.RestoreTarget) (placement.Provisioned, error) {
	if d.arch == nil {
		return nil, placement.ErrNoArchive
	}
	r := &restore{d: d, id: id, t: t, start: time.Now()}
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context) error{r.copy, r.stage, r.replay, r.finish} {
		if err := step(ctx); err != nil {
			d.sup.events.restored(time.Since(r.start), err)
			return nil, r.fail(err)
		}
	}
	r.logDone()
	d.sup.events.restored(time.Since(r.start), nil)
	return &provisioned{d: d, in: r.in, conn: r.conn, password: r.password}, nil
}

// restore is one run of Restore: its steps and what they hand each other.
type restore struct {
	d     *Driver
	id    string
	t     placement.RestoreTarget
	start time.Time

	archived  func() error      // waits for Source archived through t.Time
	verifier  chan string       // the admin password's SCRAM verifier
	inherited chan error        // Source's backup inherited; nil: not started
	b         walarchive.Backup // the base backup restored
	in        *inst
	password  string
	walStage  *walStage // nil: archive recovery with restore_command
	origConf  []byte    // postgresql.auto.conf as the base backup had it
	conn      *pgconn.PgConn

	copied, staged, replayed, prepared time.Duration
	finishAt                           time.Time
}

// begin starts archiving the source, chooses the base backup and registers
// the new instance. The base backups that can serve t.Time are all there
// already (one that ends later is consistent after it): the copy need not
// wait for the source's archive, only the WAL does.
func (r *restore) begin(ctx context.Context) error {
	r.archived = r.archiveSource(ctx)
	a := r.d.arch.a
	bs, err := a.Store.ListBackups(ctx, r.t.Source)
	if err != nil {
		return errors.Join(r.archived(), err)
	}
	if r.b, err = walarchive.ChooseBackup(bs, r.t.Time); err != nil {
		if aerr := r.archived(); aerr != nil {
			return aerr // e.g. the source is gone, and its archive with it
		}
		return err
	}
	r.in = newInst(r.d.lay, r.id, true)
	if err := r.d.sup.add(r.in); err != nil {
		_ = r.archived()
		return fmt.Errorf("restore %s: %w", r.id, err)
	}
	r.password = r.t.AdminPassword
	if r.password == "" {
		r.password = auth.NewPassword()
	}
	// A few ms of hashing, beside the copy and the replay.
	r.verifier = make(chan string, 1)
	go func(pw string) { r.verifier <- auth.SCRAMVerifier(pw) }(r.password)
	return nil
}

// archiveSource starts archiving the source through the target (waking it
// first if it is stopped) and returns a function that waits for the
// result; it may be called any number of times.
func (r *restore) archiveSource(ctx context.Context) func() error {
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		in, aerr := r.d.sup.acquire(ctx, r.t.Source)
		if aerr != nil {
			err = fmt.Errorf("start source %s: %w", r.t.Source, aerr)
			return
		}
		defer r.d.sup.release(in)
		if aerr := r.d.arch.archiveThrough(ctx, in); aerr != nil {
			err = fmt.Errorf("archive source %s: %w", r.t.Source, aerr)
		}
	}()
	return func() error {
		<-done
		return err
	}
}

// fail undoes a restore that failed after begin, once what runs beside
// the steps has ended.
func (r *restore) fail(err error) error {
	_ = r.archived()
	if r.inherited != nil {
		<-r.inherited // it writes under id's archive, which discard removes
	}
	if r.conn != nil {
		r.conn.Close(context.Background())
	}
	r.d.discard(r.id)
	return fmt.Errorf("restore %s from %s: %w", r.id, r.t.Source, err)
}

// copy copies the base backup into the new instance's directory (a golden
// base backup from the golden directory it names), then starts the
// inheritance of Source's backup and WAL as the new instance's own.
func (r *restore) copy(ctx context.Context) error {
	a := r.d.arch.a
	cl := r.in.cl
	_ = r.d.removeDir(r.id)
	if err := os.Mkdir(cl.Dir, 0o700); err != nil {
		return err
	}
	if err := r.d.cfg.RunAs.Chown(cl.Dir); err != nil {
		return err
	}
	var err error
	if r.b.Golden != "" {
		src, gerr := r.d.gold.dirOf(r.b.Golden)
		if gerr != nil {
			return gerr
		}
		if err = dirtree.Copy(src, cl.Data); err == nil {
			_ = os.Remove(filepath.Join(cl.Data, postgres.RecipeMarker))
		}
	} else {
		err = a.Store.GetBackup(ctx, r.t.Source, r.b.Name, cl.Data)
	}
	if err != nil {
		return fmt.Errorf("copy base backup %s: %w", r.b.Name, err)
	}
	r.copied = time.Since(r.start)
	r.inherited = make(chan error, 1)
	go func() {
		// The instance's own first base backup: the source's backup it
		// was restored from and the source's WAL since, as hard links
		// (no copy, no checkpoint).
		r.inherited <- a.Store.InheritBackup(context.WithoutCancel(ctx), r.t.Source, r.id, r.b)
	}()
	return nil
}

// stage waits for the source's archive, then stages the first of the WAL
// to replay into pg_wal (replayed in standby mode, walStage); without
// staging, or over a gap in the archive, replay fetches it segment by
// segment in archive recovery instead.
func (r *restore) stage(ctx context.Context) error {
	if err := r.archived(); err != nil {
		return err
	}
	stagedAt := time.Now()
	data := r.in.cl.Data
	s, err := planStage(ctx, r.d.arch.a, r.d.cfg.RunAs.Chown, r.t.Source, r.b, data)
	if err == nil && s != nil {
		err = s.first(ctx)
	}
	if err != nil {
		return err
	}
	r.walStage = s
	r.staged = time.Since(stagedAt)
	r.prepared = stagedAt.Sub(r.start) - r.copied
	return markArchived(data, r.d.cfg.RunAs.Chown)
}

// replay writes the recovery settings and starts postgres, which replays
// up to the target and promotes; the feeder stages the rest of the WAL as
// replay goes.
func (r *restore) replay(ctx context.Context) error {
	data := r.in.cl.Data
	standby := r.walStage != nil
	signal := filepath.Join(data, "recovery.signal")
	replayTimeout := time.Hour
	if standby {
		// Standby mode waits for WAL that does not come instead of
		// failing: the wait for promotion is bounded by what it replays.
		signal = filepath.Join(data, "standby.signal")
		replayTimeout = time.Minute + time.Duration(r.walStage.bytes>>20)*time.Second
	}
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return err
	}
	if err := r.d.cfg.RunAs.Chown(signal); err != nil {
		return err
	}
	// The recovery settings go into postgresql.auto.conf, not -c flags,
	// and finish puts the file back as it came: a tenant can read
	// settings, and later starts must not see them.
	var err error
	if r.origConf, err = os.ReadFile(filepath.Join(data, "postgresql.auto.conf")); err != nil {
		return err
	}
	recovery := map[string]string{
		"recovery_target_time":      r.t.Time.UTC().Format("2006-01-02 15:04:05.999999+00"),
		"recovery_target_inclusive": "on",
		"recovery_target_action":    "promote",
		"recovery_target_timeline":  "latest",
		"hot_standby":               "off", // accept connections only once promoted
		// Before replaying, PostgreSQL makes the copied files durable: one
		// syncfs instead of an open and fsync of each copied file.
		"recovery_init_sync_method": "syncfs",
	}
	if standby {
		// Replay that caught up with the staging window looks again
		// after this long (default 5 s).
		recovery["wal_retrieve_retry_interval"] = "5ms"
	} else {
		srcWAL, err := r.d.arch.a.Store.WALDir(r.t.Source)
		if err != nil {
			return err
		}
		recovery["restore_command"] = walarchive.RestoreCommand(r.d.arch.fromData(r.id, srcWAL))
	}
	if err := appendAutoConf(data, recovery); err != nil {
		return err
	}
	startAt := time.Now()
	// Concurrency: the feeder runs beside the start; a feeder error ends
	// the start (replay would wait for that WAL forever).
	startCtx, stopStart := context.WithCancel(ctx)
	defer stopStart()
	fed := make(chan error, 1)
	if !standby || r.walStage.done() {
		fed <- nil
	} else {
		go func() {
			err := r.walStage.feed(startCtx, data)
			if err != nil {
				stopStart()
			}
			fed <- err
		}()
	}
	r.in.mu.Lock()
	err = r.d.sup.startLocked(startCtx, r.in, replayTimeout)
	r.in.mu.Unlock()
	stopStart()
	if ferr := <-fed; ferr != nil && err != nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.replayed = time.Since(startAt)
	return nil
}

// finish puts the settings back, sets the admin password and waits for
// the inherited backup.
func (r *restore) finish(ctx context.Context) error {
	r.finishAt = time.Now()
	if err := writeFileDurable(filepath.Join(r.in.cl.Data, "postgresql.auto.conf"), r.origConf, r.d.cfg.RunAs.Chown); err != nil {
		return err
	}
	conn, err := connect(ctx, r.in, placement.Superuser)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	r.conn = conn
	sql := "SELECT pg_reload_conf(); " + postgres.SetPasswordSQL(placement.AdminRole, <-r.verifier)
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("reload settings, set password: %w", err)
	}
	err = <-r.inherited
	r.inherited = nil
	return err
}

func (r *restore) logDone() {
	s := r.walStage
	var walMB int64
	if s != nil {
		walMB = s.bytes >> 20
	}
	r.d.log.Info("restored instance", logkey.DB, r.id, logkey.Source, r.t.Source, logkey.BaseBackup, r.b.Name,
		logkey.CopyMs, r.copied.Milliseconds(), logkey.WALMB, walMB, logkey.Standby, s != nil, logkey.StageMs, r.staged.Milliseconds(),
		logkey.PrepareMs, r.prepared.Milliseconds(), logkey.ReplayMs, r.replayed.Milliseconds(),
		logkey.FinishMs, time.Since(r.finishAt).Milliseconds(), logkey.TotalMs, time.Since(r.start).Milliseconds())
}

// writeFileDurable replaces file with b (owned by the instances' OS user)
// the way ALTER SYSTEM does: a temporary file, fsynced, renamed over it.
func writeFileDurable(file string, b []byte, chown func(string) error) error {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = chown(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(file), err)
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		err = d.Sync()
		d.Close()
		return err
	}
	return nil
}

// appendAutoConf adds settings to a data directory's postgresql.auto.conf.
func appendAutoConf(data string, settings map[string]string) error {
	f, err := os.OpenFile(filepath.Join(data, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for k, v := range settings {
		if _, err := fmt.Fprintf(f, "%s = '%s'\n", k, strings.ReplaceAll(v, "'", "''")); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// markArchived marks every WAL segment the copied base backup brought in
// its pg_wal as already archived. They belong to the source's history
// (which the new instance inherits from the source's archive, where the
// complete versions are); left unmarked, the new instance would try to
// archive its possibly shorter copies under the same names after
// promotion, which the archive refuses, and its archiver would stall.
func markArchived(data string, chown func(string) error) error {
	wal := filepath.Join(data, "pg_wal")
	entries, err := os.ReadDir(wal)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !walarchive.IsSegment(e.Name()) {
			continue
		}
		if err := markSegmentArchived(wal, e.Name(), chown); err != nil {
			return err
		}
	}
	return nil
}

// markSegmentArchived gives segment name of pg_wal directory wal the
// archiver's "done" status (and drops a "ready" one).
func markSegmentArchived(wal, name string, chown func(string) error) error {
	status := filepath.Join(wal, "archive_status")
	_ = os.Remove(filepath.Join(status, name+".ready"))
	done := filepath.Join(status, name+".done")
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		return fmt.Errorf("mark %s archived: %w", name, err)
	}
	return chown(done)
}
