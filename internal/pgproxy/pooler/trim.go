package pooler

import (
	"runtime/debug"
	"time"
)

// A burst of logins leaves the Go heap grown by their garbage (startup
// and password messages, goroutine stacks, buffers), which the runtime
// returns to the OS only slowly: the scavenger keeps up to about twice
// the live heap. Thousands of idle clients would then cost the process
// many times what they hold. So once pooled logins stop, after a burst,
// the pooler has the freed memory returned at once: a forced collection
// (a few milliseconds of CPU, its pauses as short as any collection's),
// at most once per burst.
const (
	trimQuiet     = 500 * time.Millisecond // no login for this long ends a burst
	trimMinLogins = 256                    // logins that make a burst
)

// noteLogin counts a pooled login toward a burst.
func (pr *Pooler) noteLogin() {
	pr.lastLogin.Store(time.Now().UnixNano())
	if pr.logins.Add(1) >= trimMinLogins && pr.trimArmed.CompareAndSwap(false, true) {
		time.AfterFunc(trimQuiet, pr.trimCheck)
	}
}

// trimCheck returns freed memory to the OS once the burst is over.
func (pr *Pooler) trimCheck() {
	if quiet := time.Since(time.Unix(0, pr.lastLogin.Load())); quiet < trimQuiet {
		time.AfterFunc(trimQuiet-quiet, pr.trimCheck)
		return
	}
	pr.logins.Store(0)
	pr.trimArmed.Store(false)
	select {
	case <-pr.quit:
		return
	default:
	}
	debug.FreeOSMemory()
}
