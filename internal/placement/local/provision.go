package local

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/postgres"
)

// provisioned is placement.Provisioned: a new instance, running, with its
// admin password already set, handed to the caller.
type provisioned struct {
	d        *Driver
	in       *inst
	conn     *pgconn.PgConn // superuser
	password string
}

// ready is a provisioned instance waiting in the warm pool, with its
// superuser connection open and its admin password set, so a create that
// takes it does no I/O on it at all unless the customer chose a password.
type ready = provisioned

func (p *provisioned) ID() string            { return p.in.id }
func (p *provisioned) AdminPassword() string { return p.password }

// Provision implements placement.Provisioner: a warm instance when the
// pool has one, otherwise one made now (from a spare, or a copy of the
// golden directory).
func (d *Driver) Provision(ctx context.Context) (placement.Provisioned, error) {
	if d.sup.closed.Load() {
		return nil, placement.ErrClosed
	}
	if r := d.pool.takeWarm(); r != nil {
		return r, nil
	}
	r, err := d.provisionReady(ctx)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// provisionReady makes a new instance and sets a random admin password.
func (d *Driver) provisionReady(ctx context.Context) (*ready, error) {
	in, err := d.provisionNew(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, in, placement.Superuser)
	if err != nil {
		d.discard(in.id)
		return nil, fmt.Errorf("provision %s: connect: %w", in.id, err)
	}
	pw := auth.NewPassword()
	if err := postgres.SetRolePassword(ctx, conn, placement.AdminRole, pw); err != nil {
		conn.Close(ctx)
		d.discard(in.id)
		return nil, fmt.Errorf("provision %s: %w", in.id, err)
	}
	return &ready{d: d, in: in, conn: conn, password: pw}, nil
}

// provisionNew moves a spare into dbs/<id>, or copies the golden directory
// to dbs/<new id>, and starts it. The instance is registered as warm so
// neither Acquire nor the reaper touch it until it is committed.
func (d *Driver) provisionNew(ctx context.Context) (*inst, error) {
	id := d.pool.takeSpare()
	if id == "" {
		id = platform.NewID(platform.DatabaseIDLen)
	}
	in := newInst(d.lay, id, true)
	fail := func(err error) (*inst, error) {
		_ = d.removeDir(id)
		return nil, fmt.Errorf("provision %s: %w", id, err)
	}
	if _, err := os.Stat(in.cl.Data); err != nil { // no spare: copy now
		if err := os.Mkdir(in.cl.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("provision %s: %w", id, err)
		}
		if err := d.cfg.RunAs.Chown(in.cl.Dir); err != nil {
			return fail(err)
		}
		if err := dirtree.Copy(d.gold.dir, in.cl.Data); err != nil {
			return fail(err)
		}
	}
	if err := d.arch.recordGoldenBackup(ctx, id); err != nil {
		return fail(err)
	}
	if err := d.sup.add(in); err != nil {
		return fail(err)
	}
	in.mu.Lock()
	start := time.Now()
	err := d.sup.startLocked(ctx, in, 0)
	in.mu.Unlock()
	if err != nil {
		d.sup.remove(id)
		return fail(err)
	}
	d.sup.events.started(false, time.Since(start))
	return in, nil
}

// SetAdminPassword replaces the preset admin password with one the
// customer chose.
func (p *provisioned) SetAdminPassword(ctx context.Context, password string) error {
	if p.conn.IsClosed() || p.conn.Ping(ctx) != nil { // the warm instance restarted meanwhile
		p.conn.Close(ctx)
		c, err := connect(ctx, p.in, placement.Superuser)
		if err != nil {
			return fmt.Errorf("connect %s: %w", p.in.id, err)
		}
		p.conn = c
	}
	if err := postgres.SetRolePassword(ctx, p.conn, placement.AdminRole, password); err != nil {
		return err
	}
	p.password = password
	return nil
}

// Commit makes the instance an ordinary one: leasable, subject to the idle
// reaper (its idle clock starts now).
func (p *provisioned) Commit() {
	p.conn.Close(context.Background())
	p.in.touch()
	p.in.warm.Store(false)
}

// Abort stops and removes the instance.
func (p *provisioned) Abort() {
	p.conn.Close(context.Background())
	p.d.discard(p.in.id)
}

func (d *Driver) discard(id string) {
	if err := d.Destroy(context.Background(), id); err != nil {
		d.log.Error("remove instance", logkey.DB, id, logkey.Err, err)
	}
}
