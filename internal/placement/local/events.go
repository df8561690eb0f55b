package local

import "time"

// Events are told of instance lifecycle events, for metrics. Every field
// may be nil; each is called on the goroutine of the event, so it must be
// quick (a counter or histogram update).
type Events struct {
	// Started: a postmaster accepts connections after d. cold: it was
	// woken by a lease (a cold start), not provisioned or restarted.
	Started func(cold bool, d time.Duration)
	// Stopped: an instance was stopped on purpose, for reason "idle",
	// "requested" or "shutdown" (server close or delete).
	Stopped func(reason string)
	// Restored: a restore (branch) ended after d, failed when err is set.
	Restored func(d time.Duration, err error)
	// BackedUp: a scheduled base backup ended after d.
	BackedUp func(d time.Duration, err error)
}

func (e Events) started(cold bool, d time.Duration) {
	if e.Started != nil {
		e.Started(cold, d)
	}
}

func (e Events) stopped(reason string) {
	if e.Stopped != nil {
		e.Stopped(reason)
	}
}

func (e Events) restored(d time.Duration, err error) {
	if e.Restored != nil {
		e.Restored(d, err)
	}
}

func (e Events) backedUp(d time.Duration, err error) {
	if e.BackedUp != nil {
		e.BackedUp(d, err)
	}
}

// Counts are the driver's instances by state, read cheaply (no I/O) for
// metrics gauges.
type Counts struct {
	Running, Stopped int // databases' instances
	Warm, Spare      int // the pools
}

// Counts reports how many instances run, are stopped, and sit in the pools.
func (d *Driver) Counts() Counts {
	var c Counts
	for _, in := range d.sup.committed() {
		if d.sup.pid(in.id) != 0 {
			c.Running++
		} else {
			c.Stopped++
		}
	}
	c.Warm, c.Spare = d.pool.sizes()
	return c
}
