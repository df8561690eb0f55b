package scheduler

import "time"

// DefaultCatchUp is how many ticks back a server that was down (or a loop
// that stalled) still fires: ticks older than that are skipped and logged.
const DefaultCatchUp = 10

// clock cuts time into ticks. A tick is a minute in production; tests and
// benchmarks shorten it (config.Server.SchedulerTick), and schedules are
// then matched against a virtual minute per tick, so `*/2 * * * *` still
// means every second tick.
type clock struct{ tick time.Duration }

// floor is the start of the tick t falls in, in UTC.
func (c clock) floor(t time.Time) time.Time { return t.UTC().Truncate(c.tick) }

// minute is the time schedules are matched against for a tick: the tick
// itself when a tick is a minute.
func (c clock) minute(tick time.Time) time.Time {
	if c.tick == time.Minute {
		return tick
	}
	return time.Unix(0, 0).UTC().Add(time.Duration(tick.UnixNano()/int64(c.tick)) * time.Minute)
}

// Due is the missed-tick policy. Given the last tick processed and the
// current one it returns the ticks that may still fire, newest first, and
// how many were skipped as older than window ticks:
//
//   - no tick was processed before (a new catalog): nothing fires until the
//     next boundary;
//   - the current tick was processed already: nothing;
//   - otherwise the ticks after last up to current, at most window of them.
//
// A job fires at most once for the whole list: at the newest tick in it
// that its schedule matches (a job every minute after ten minutes down
// runs once, not ten times). In normal operation the list is one tick.
func Due(last, current time.Time, tick time.Duration, window int) (ticks []time.Time, skipped int) {
	if last.IsZero() || !current.After(last) {
		return nil, 0
	}
	n := int(current.Sub(last) / tick)
	if n > window {
		skipped = n - window
		n = window
	}
	for i := 0; i < n; i++ {
		ticks = append(ticks, current.Add(-time.Duration(i)*tick))
	}
	return ticks, skipped
}
