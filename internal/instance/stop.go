package instance

// Stop stops a database's instance now, as the idle reaper would, unless a
// lease holds it. The next Acquire starts it again. It reports whether the
// instance was stopped. Benchmarks use it to measure cold starts.
func (m *Manager) Stop(id string) bool {
	m.mu.Lock()
	in := m.insts[id]
	m.mu.Unlock()
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	m.mu.Lock()
	busy := in.leases > 0 || in.warm || in.deleted
	m.mu.Unlock()
	if busy || in.pm == nil {
		return false
	}
	m.stopLocked(in)
	return true
}
