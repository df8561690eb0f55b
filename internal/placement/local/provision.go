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
	"github.com/db9/db9/internal/platform"
	"github.com/jackc/pgx/v5/pgconn"
)

// Provisioned is a new instance, running, with a fresh random admin
// password already set, handed to the caller. The caller either Commit()s
// it into a database or Abort()s it.
type Provisioned struct {
	ID            string
	AdminPassword string // set in the instance as a SCRAM verifier
	conn          *pgconn.PgConn
	m             *Manager
	in            *inst
}

// ready is a provisioned instance waiting in the warm pool, with its
// superuser connection open and its admin password set, so a create that
// takes it does no I/O on it at all unless the customer chose a password.
type ready struct {
	in       *inst
	conn     *pgconn.PgConn
	password string
}

// Provision returns a new running instance under a fresh id: a warm one
// when the pool has one, otherwise one made now (from a spare, or a copy of
// the golden directory). Until Commit the instance has no database row and
// a restart of the server removes it.
func (m *Manager) Provision(ctx context.Context) (*Provisioned, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	var r *ready
	if n := len(m.warm); n > 0 {
		r = m.warm[n-1]
		m.warm = m.warm[:n-1]
	} else {
		m.lastMiss = time.Now()
		m.warmTarget = min(m.warmTarget+1, m.cfg.WarmPoolMax)
	}
	m.mu.Unlock()
	m.kickRefill()
	if r == nil {
		var err error
		if r, err = m.provisionReady(ctx); err != nil {
			return nil, err
		}
	}
	return &Provisioned{ID: r.in.id, AdminPassword: r.password, conn: r.conn, m: m, in: r.in}, nil
}

// provisionReady makes a new instance and sets a random admin password.
func (m *Manager) provisionReady(ctx context.Context) (*ready, error) {
	in, err := m.provisionNew(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.Connect(ctx, superuserConnString(filepath.Join(in.dir, "s")))
	if err != nil {
		m.discard(in)
		return nil, fmt.Errorf("provision %s: connect: %w", in.id, err)
	}
	pw := auth.NewPassword()
	if err := SetRolePassword(ctx, conn, AdminRole, pw); err != nil {
		conn.Close(ctx)
		m.discard(in)
		return nil, fmt.Errorf("provision %s: %w", in.id, err)
	}
	return &ready{in: in, conn: conn, password: pw}, nil
}

// SetAdminPassword replaces the preset admin password with one the
// customer chose.
func (p *Provisioned) SetAdminPassword(ctx context.Context, password string) error {
	if p.conn.IsClosed() || p.conn.Ping(ctx) != nil { // the warm instance restarted meanwhile
		p.conn.Close(ctx)
		c, err := pgconn.Connect(ctx, superuserConnString(filepath.Join(p.in.dir, "s")))
		if err != nil {
			return fmt.Errorf("connect %s: %w", p.ID, err)
		}
		p.conn = c
	}
	if err := SetRolePassword(ctx, p.conn, AdminRole, password); err != nil {
		return err
	}
	p.AdminPassword = password
	return nil
}

// SetRolePassword sets a role's password as a SCRAM verifier computed
// here, so the plaintext never reaches the instance (its logs or
// pg_stat_statements).
func SetRolePassword(ctx context.Context, conn *pgconn.PgConn, role, password string) error {
	sql := fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", quoteIdent(role), auth.SCRAMVerifier(password))
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("set password of %s: %w", role, err)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Commit makes the instance an ordinary one: leasable, subject to the idle
// reaper (its idle clock starts now).
func (p *Provisioned) Commit() {
	p.conn.Close(context.Background())
	p.m.mu.Lock()
	p.in.warm = false
	p.in.lastUsed = time.Now()
	p.m.mu.Unlock()
}

// Abort stops and removes the instance.
func (p *Provisioned) Abort() {
	p.conn.Close(context.Background())
	p.m.discard(p.in)
}

func (m *Manager) discard(in *inst) {
	if err := m.Destroy(context.Background(), in.id); err != nil {
		m.log.Error("remove instance", "component", "instance", "db", in.id, "err", err)
	}
}

// provisionNew copies the golden directory to dbs/<new id> and starts it.
// The instance is registered as warm so neither Acquire nor the reaper
// touch it until it is committed.
func (m *Manager) provisionNew(ctx context.Context) (*inst, error) {
	id := m.takeSpare()
	m.kickRefill()
	if id == "" {
		id = platform.NewID(platform.DatabaseIDLen)
	}
	dir := filepath.Join(m.dbsDir(), id)
	in := &inst{id: id, dir: dir, warm: true, lastUsed: time.Now()}
	fail := func(err error) (*inst, error) {
		_ = m.removeDir(dir)
		return nil, fmt.Errorf("provision %s: %w", id, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata")); err != nil { // no spare: copy now
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("provision %s: %w", id, err)
		}
		if err := m.cfg.RunAs.Chown(dir); err != nil {
			return fail(err)
		}
		if err := dirtree.Copy(m.golden, filepath.Join(dir, "pgdata")); err != nil {
			return fail(err)
		}
	}
	if err := m.recordGoldenBackup(ctx, id); err != nil {
		return fail(err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fail(ErrClosed)
	}
	m.insts[id] = in
	m.mu.Unlock()
	in.mu.Lock()
	err := m.startLocked(ctx, in)
	in.mu.Unlock()
	if err != nil {
		m.mu.Lock()
		delete(m.insts, id)
		m.mu.Unlock()
		return fail(err)
	}
	return in, nil
}

func (m *Manager) kickRefill() {
	select {
	case m.refill <- struct{}{}:
	default:
	}
}

// shrinkWarm returns the warm pool to WarmPool once Config.WarmDecay has passed
// without a miss, stopping the surplus instances.
func (m *Manager) shrinkWarm() {
	m.mu.Lock()
	if m.warmTarget <= m.cfg.WarmPool || time.Since(m.lastMiss) < m.cfg.WarmDecay {
		m.mu.Unlock()
		return
	}
	m.warmTarget = m.cfg.WarmPool
	var surplus []*ready
	if n := len(m.warm); n > m.warmTarget {
		surplus = append(surplus, m.warm[m.warmTarget:]...)
		m.warm = m.warm[:m.warmTarget]
	}
	m.mu.Unlock()
	for _, r := range surplus {
		r.conn.Close(context.Background())
		m.discard(r.in)
	}
}

// WarmTarget is the warm pool's current size goal.
func (m *Manager) WarmTarget() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.warmTarget
}

// filler keeps WarmPool instances provisioned and running and SparePool
// copies ready, one at a time so that refilling never competes hard with
// the creates it serves. Warm instances come first: they make the fastest
// creates.
func (m *Manager) filler() {
	defer m.wg.Done()
	for {
		select {
		case <-m.quit:
			return
		case <-m.refill:
		}
		for {
			m.mu.Lock()
			needWarm := !m.closed && len(m.warm) < m.warmTarget
			needSpare := !m.closed && len(m.spares) < m.cfg.SparePool
			m.mu.Unlock()
			var err error
			switch {
			case needWarm:
				err = m.fillWarm()
			case needSpare:
				var id string
				if id, err = m.makeSpare(); err == nil {
					m.mu.Lock()
					m.spares = append(m.spares, id)
					m.mu.Unlock()
				}
			default:
				goto wait
			}
			if errors.Is(err, ErrClosed) {
				return
			}
			if err != nil {
				m.log.Error("fill instance pools", "component", "instance", "err", err)
				select {
				case <-m.quit:
					return
				case <-time.After(5 * time.Second):
				}
			}
		}
	wait:
	}
}

func (m *Manager) fillWarm() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := m.provisionReady(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed { // Close stops and removes it with the other warm ones
		r.conn.Close(ctx)
		return ErrClosed
	}
	m.warm = append(m.warm, r)
	return nil
}
