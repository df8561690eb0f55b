package instance

import (
	"fmt"
	"github.com/db9/db9/internal/dirtree"
	"os"
	"path/filepath"
	"strings"

	"github.com/db9/db9/internal/platform"
)

// Spares are instance directories copied from the golden directory ahead
// of time and left stopped, under spare/<id>. Taking one is a rename into
// dbs/ (same filesystem), so a create that finds the warm pool empty pays
// for a start (~30 ms) but not for the copy. Spares survive restarts as
// long as the golden recipe is unchanged; a half-copied one (still named
// *.tmp) is removed at Open.

func (m *Manager) spareDir() string { return filepath.Join(m.cfg.DataDir, "spare") }

const spareMarker = "golden_version"

// openSpares removes spares that are half-made or from another golden recipe
// and returns the usable ones.
func (m *Manager) openSpares() ([]string, error) {
	if err := os.MkdirAll(m.spareDir(), 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(m.spareDir())
	if err != nil {
		return nil, err
	}
	want := goldenVersion()
	var ok []string
	for _, e := range entries {
		p := filepath.Join(m.spareDir(), e.Name())
		b, err := os.ReadFile(filepath.Join(p, spareMarker))
		if strings.HasSuffix(e.Name(), ".tmp") || err != nil || strings.TrimSpace(string(b)) != want {
			if err := os.RemoveAll(p); err != nil {
				return nil, err
			}
			continue
		}
		ok = append(ok, e.Name())
	}
	return ok, nil
}

// makeSpare copies the golden directory into a new spare.
func (m *Manager) makeSpare() (string, error) {
	id := platform.NewID(platform.DatabaseIDLen)
	tmp := filepath.Join(m.spareDir(), id+".tmp")
	fail := func(err error) (string, error) {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("make spare instance: %w", err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fail(err)
	}
	if err := m.cfg.RunAs.Chown(tmp); err != nil {
		return fail(err)
	}
	if err := dirtree.Copy(m.golden, filepath.Join(tmp, "pgdata")); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, spareMarker), []byte(goldenVersion()+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, filepath.Join(m.spareDir(), id)); err != nil {
		return fail(err)
	}
	return id, nil
}

// takeSpare moves a spare into dbs/ and returns its id, or "" when none is left.
func (m *Manager) takeSpare() string {
	for {
		m.mu.Lock()
		n := len(m.spares)
		if n == 0 {
			m.mu.Unlock()
			return ""
		}
		id := m.spares[n-1]
		m.spares = m.spares[:n-1]
		m.mu.Unlock()
		src := filepath.Join(m.spareDir(), id)
		_ = os.Remove(filepath.Join(src, spareMarker))
		if err := os.Rename(src, filepath.Join(m.dbsDir(), id)); err != nil {
			m.log.Warn("take spare instance", "component", "instance", "db", id, "err", err)
			_ = os.RemoveAll(src)
			continue
		}
		return id
	}
}

// PoolSizes reports how many warm instances and spares are ready now (for
// status output and for benchmarks that start from full pools).
func (m *Manager) PoolSizes() (warm, spares int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.warm), len(m.spares)
}
