package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/db9/db9/internal/platform"
	"github.com/jackc/pgx/v5/pgconn"
)

// Provisioned is a new instance, running, handed to the caller together
// with an open superuser connection for its first settings. The caller
// either Commit()s it into a database or Abort()s it.
type Provisioned struct {
	ID   string
	Conn *pgconn.PgConn // platform superuser; closed by Commit/Abort
	m    *Manager
	in   *inst
}

// Provision returns a new running instance under a fresh id: a warm one
// when the pool has one, otherwise a copy of the golden directory started
// now. Until Commit the instance has no database row and a restart of the
// server removes it.
func (m *Manager) Provision(ctx context.Context) (*Provisioned, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	var in *inst
	if n := len(m.warm); n > 0 {
		in = m.warm[n-1]
		m.warm = m.warm[:n-1]
	}
	m.mu.Unlock()
	m.kickRefill()
	if in != nil {
		conn, err := m.superConn(ctx, in)
		if err == nil {
			return &Provisioned{ID: in.id, Conn: conn, m: m, in: in}, nil
		}
		m.log.Warn("warm instance unusable; provisioning a new one", "component", "instance", "db", in.id, "err", err)
		m.discard(in)
	}
	in, err := m.provisionNew(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := m.superConn(ctx, in)
	if err != nil {
		m.discard(in)
		return nil, err
	}
	return &Provisioned{ID: in.id, Conn: conn, m: m, in: in}, nil
}

func (m *Manager) superConn(ctx context.Context, in *inst) (*pgconn.PgConn, error) {
	in.mu.Lock()
	running := in.pm != nil
	in.mu.Unlock()
	if !running {
		if err := m.ensureRunning(ctx, in); err != nil {
			return nil, err
		}
	}
	return pgconn.Connect(ctx, superuserConnString(filepath.Join(in.dir, "s")))
}

// Commit makes the instance an ordinary one: leasable, subject to the idle
// reaper (its idle clock starts now).
func (p *Provisioned) Commit() {
	p.Conn.Close(context.Background())
	p.m.mu.Lock()
	p.in.warm = false
	p.in.lastUsed = time.Now()
	p.m.mu.Unlock()
}

// Abort stops and removes the instance.
func (p *Provisioned) Abort() {
	p.Conn.Close(context.Background())
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
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("provision %s: %w", id, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata")); err != nil { // no spare: copy now
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("provision %s: %w", id, err)
		}
		if err := m.cfg.RunAs.Chown(dir); err != nil {
			return fail(err)
		}
		if err := CopyTree(m.golden, filepath.Join(dir, "pgdata")); err != nil {
			return fail(err)
		}
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
			needWarm := !m.closed && len(m.warm) < m.cfg.WarmPool
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
	in, err := m.provisionNew(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed { // Close stops and removes it with the other warm ones
		return ErrClosed
	}
	m.warm = append(m.warm, in)
	return nil
}
