package instance

import (
	"context"
	"errors"
	"fmt"
	"github.com/db9/db9/internal/dirtree"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/walarchive"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoArchive reports a point-in-time operation on a manager without archiving.
var ErrNoArchive = errors.New("WAL archiving is not configured")

// ArchiveThrough makes sure the archive holds every transaction the
// instance committed so far, and (for a recovery target time in the past)
// one commit after it: it commits an empty transaction, whose commit
// record is later than anything before now, switches to a new WAL segment
// and waits until the archiver has stored the finished one. Replay to a
// target time stops at the first commit after the target; without one in
// the archive PostgreSQL would refuse to finish recovery.
func (l *Lease) ArchiveThrough(ctx context.Context) error {
	m := l.m
	if !m.archiving() {
		return ErrNoArchive
	}
	conn, err := l.SuperuserConn(ctx)
	if err != nil {
		return fmt.Errorf("connect %s: %w", l.in.id, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := conn.Exec(ctx, "BEGIN; SELECT pg_current_xact_id(); COMMIT; SELECT pg_walfile_name(pg_switch_wal())").ReadAll()
	if err != nil {
		return fmt.Errorf("switch wal of %s: %w", l.in.id, err)
	}
	last := res[len(res)-1]
	if len(last.Rows) != 1 {
		return fmt.Errorf("switch wal of %s: no segment name", l.in.id)
	}
	seg := string(last.Rows[0][0])
	return m.waitArchived(ctx, l.in.id, seg)
}

func (m *Manager) waitArchived(ctx context.Context, id, seg string) error {
	// The archiver stores a segment within a few ms of the switch; a stat
	// every 2 ms at most finds it without adding a coarse poll's delay to
	// every branch.
	delay := 500 * time.Microsecond
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := m.cfg.Archive.Store.HasWAL(ctx, id, seg)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("WAL segment %s of %s not archived after 2 minutes", seg, id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Millisecond)
	}
}

// runPrepare starts prepare (if any) and returns a function that waits for
// its result; it may be called any number of times.
func runPrepare(ctx context.Context, prepare func(context.Context) error) func() error {
	if prepare == nil {
		return func() error { return nil }
	}
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = prepare(ctx)
	}()
	return func() error {
		<-done
		return err
	}
}

// RestoreTarget says what a restore replays: the archive of database
// Source, up to and including the transactions committed at Time.
type RestoreTarget struct {
	Source string
	Time   time.Time
	// AdminPassword is set on the restored instance's admin role.
	AdminPassword string
	// Prepare, when set, runs beside the copy of the base backup and must
	// succeed before the WAL is read: it makes the archive hold what the
	// target needs (ArchiveThrough on the source, which may first have to
	// start it). Its error is the restore's.
	Prepare func(context.Context) error
}

// ProvisionRestore makes instance id from Source's archive: the newest base
// backup consistent at or before Time, replay of the archived WAL (staged
// into pg_wal ahead of replay, or fetched by restore_command)
// with recovery_target_time = Time (inclusive), promotion, the admin password,
// and a first base backup of the new instance itself (inherited from
// Source's as hard links), so that from then on it depends on nothing of
// Source. Like Provision, the result is uncommitted:
// a restart of the server removes it. Any earlier attempt under id is
// removed first.
func (m *Manager) ProvisionRestore(ctx context.Context, id string, t RestoreTarget) (*Provisioned, error) {
	if !m.archiving() {
		return nil, ErrNoArchive
	}
	a := m.cfg.Archive
	start := time.Now()
	// The base backups that can serve t.Time are all there already (one
	// that ends later is consistent after it): the copy need not wait for
	// Prepare, only the WAL does.
	prepared := runPrepare(ctx, t.Prepare)
	bs, err := a.Store.ListBackups(ctx, t.Source)
	if err != nil {
		return nil, errors.Join(prepared(), err)
	}
	b, err := walarchive.ChooseBackup(bs, t.Time)
	if err != nil {
		if perr := prepared(); perr != nil {
			return nil, perr // e.g. the source is gone, and its archive with it
		}
		return nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		prepared()
		return nil, ErrClosed
	}
	if m.insts[id] != nil {
		m.mu.Unlock()
		prepared()
		return nil, fmt.Errorf("restore %s: instance exists", id)
	}
	dir := filepath.Join(m.dbsDir(), id)
	in := &inst{id: id, dir: dir, warm: true, lastUsed: time.Now()}
	m.insts[id] = in
	m.mu.Unlock()
	pw := t.AdminPassword
	if pw == "" {
		pw = auth.NewPassword()
	}
	// The steps that need no instance run beside the copy and the replay:
	// the SCRAM verifier (a few ms of hashing) and, once the base backup is
	// copied, the inheritance of Source's backup and WAL as hard links.
	verifier := make(chan string, 1)
	go func() { verifier <- auth.SCRAMVerifier(pw) }()
	var inherited chan error
	fail := func(err error) (*Provisioned, error) {
		prepared()
		if inherited != nil {
			<-inherited // it writes under id's archive, which discard removes
		}
		m.discard(in)
		return nil, fmt.Errorf("restore %s from %s: %w", id, t.Source, err)
	}
	_ = m.removeDir(dir)
	_ = a.Store.DeleteDatabase(ctx, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fail(err)
	}
	if err := m.cfg.RunAs.Chown(dir); err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "pgdata")
	if b.Golden != "" {
		src, err := m.goldenDirOf(b.Golden)
		if err != nil {
			return fail(err)
		}
		err = dirtree.Copy(src, data)
		if err == nil {
			_ = os.Remove(filepath.Join(data, goldenMarker))
		}
	} else {
		err = a.Store.GetBackup(ctx, t.Source, b.Name, data)
	}
	if err != nil {
		return fail(fmt.Errorf("copy base backup %s: %w", b.Name, err))
	}
	copied := time.Since(start)
	inherited = make(chan error, 1)
	go func() {
		// The instance's own first base backup: the source's backup it
		// was restored from and the source's WAL since, inherited as hard
		// links (no copy, no checkpoint); from here on it needs nothing of
		// Source.
		inherited <- a.Store.InheritBackup(context.WithoutCancel(ctx), t.Source, id, b)
	}()
	// The WAL to replay is staged into pg_wal and replayed in standby mode
	// (walStage); without staging, or over a gap in the archive, it is
	// fetched segment by segment in archive recovery.
	if err := prepared(); err != nil {
		return fail(err)
	}
	stage, err := m.planStage(ctx, t.Source, b, data)
	if err == nil && stage != nil {
		err = stage.first(ctx)
	}
	if err != nil {
		return fail(err)
	}
	standby := stage != nil
	stagedIn := time.Since(start) - copied
	if err := markArchived(data, m.cfg.RunAs.Chown); err != nil {
		return fail(err)
	}
	signal := filepath.Join(data, "recovery.signal")
	replayTimeout := time.Hour
	if standby {
		// Standby mode waits for WAL that does not come instead of
		// failing: the wait for promotion is bounded by what it replays.
		signal = filepath.Join(data, "standby.signal")
		replayTimeout = time.Minute + time.Duration(stage.bytes>>20)*time.Second
	}
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return fail(err)
	}
	if err := m.cfg.RunAs.Chown(signal); err != nil {
		return fail(err)
	}
	// The recovery settings go into postgresql.auto.conf, not -c flags,
	// and the file is put back as it came after promotion: a tenant can
	// read settings, and later starts must not see them.
	autoConf := filepath.Join(data, "postgresql.auto.conf")
	origConf, err := os.ReadFile(autoConf)
	if err != nil {
		return fail(err)
	}
	recovery := map[string]string{
		"recovery_target_time":      t.Time.UTC().Format("2006-01-02 15:04:05.999999+00"),
		"recovery_target_inclusive": "on",
		"recovery_target_action":    "promote",
		"recovery_target_timeline":  "latest",
		"hot_standby":               "off", // accept connections only once promoted
		// Before replaying, PostgreSQL makes the copied files durable: one
		// syncfs instead of an open and fsync of each of ~700 files.
		"recovery_init_sync_method": "syncfs",
	}
	if standby {
		// Replay that caught up with the staging window looks again
		// after this long (default 5 s).
		recovery["wal_retrieve_retry_interval"] = "5ms"
	} else {
		srcWAL, err := a.Store.WALDir(t.Source)
		if err != nil {
			return fail(err)
		}
		recovery["restore_command"] = walarchive.RestoreCommand(m.fromData(id, srcWAL))
	}
	if err := appendAutoConf(data, recovery); err != nil {
		return fail(err)
	}
	settings := m.instSettings(id)
	startAt := time.Now()
	// The rest of the WAL is staged as replay goes (a feeder error ends
	// the start: replay would wait for it forever).
	startCtx, stopStart := context.WithCancel(ctx)
	defer stopStart()
	fed := make(chan error, 1)
	fedAll := !standby || stage.done()
	if fedAll {
		fed <- nil
	} else {
		go func() {
			err := stage.feed(startCtx, data)
			if err != nil {
				stopStart()
			}
			fed <- err
		}()
	}
	in.mu.Lock()
	pm, err := StartPostmaster(startCtx, StartOptions{
		Bin: m.cfg.Bin, RunAs: m.cfg.RunAs, DataDir: data, SocketDir: filepath.Join(dir, "s"),
		Settings: settings, Logger: m.log.With("db", id), ReadyTimeout: replayTimeout,
	})
	if err == nil {
		in.pm = pm
		go m.watch(in, pm)
	}
	in.mu.Unlock()
	stopStart()
	if ferr := <-fed; ferr != nil && err != nil {
		err = ferr
	}
	if err != nil {
		return fail(fmt.Errorf("replay: %w", err))
	}
	replayed := time.Since(startAt)
	readyAt := time.Now()
	if err := writeFileDurable(autoConf, origConf, m.cfg.RunAs.Chown); err != nil {
		return fail(err)
	}
	conn, err := pgconn.Connect(ctx, superuserConnString(filepath.Join(dir, "s")))
	if err != nil {
		return fail(fmt.Errorf("connect: %w", err))
	}
	sql := fmt.Sprintf("SELECT pg_reload_conf(); ALTER ROLE %s PASSWORD '%s'", quoteIdent(AdminRole), <-verifier)
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		conn.Close(ctx)
		return fail(fmt.Errorf("reload settings, set password: %w", err))
	}
	if err := <-inherited; err != nil {
		inherited = nil
		conn.Close(ctx)
		return fail(err)
	}
	m.log.Info("restored instance", "component", "instance", "db", id, "source", t.Source, "base_backup", b.Name,
		"copy_ms", copied.Milliseconds(), "wal_mb", walMB(stage), "standby", standby, "fed", !fedAll, "stage_ms", stagedIn.Milliseconds(),
		"prepare_ms", (startAt.Sub(start) - copied - stagedIn).Milliseconds(), "replay_ms", replayed.Milliseconds(),
		"finish_ms", time.Since(readyAt).Milliseconds(), "total_ms", time.Since(start).Milliseconds())
	return &Provisioned{ID: id, AdminPassword: pw, conn: conn, m: m, in: in}, nil
}

func walMB(s *walStage) int64 {
	if s == nil {
		return 0
	}
	return s.bytes >> 20
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
