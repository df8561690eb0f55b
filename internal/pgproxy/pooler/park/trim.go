package park

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// A burst of logins leaves the Go heap grown by their garbage (startup
// and password messages, goroutine stacks, buffers), which the runtime
// returns to the OS only slowly: the scavenger keeps up to about twice
// the live heap. Thousands of idle clients would then cost the process
// many times what they hold. So once pooled logins stop, after a burst,
// the freed memory is returned at once: a forced collection (a few
// milliseconds of CPU, its pauses as short as any collection's), at most
// once per burst.
const (
	trimQuiet     = 500 * time.Millisecond // no login for this long ends a burst
	trimMinLogins = 256                    // logins that make a burst
)

// Trimmer returns the memory a burst of logins freed to the OS once the
// burst is over.
type Trimmer struct {
	quit      <-chan struct{}
	logins    atomic.Int64
	lastLogin atomic.Int64 // unix nanoseconds
	armed     atomic.Bool
}

// NewTrimmer returns a Trimmer that does nothing more once quit is
// closed.
func NewTrimmer(quit <-chan struct{}) *Trimmer { return &Trimmer{quit: quit} }

// NoteLogin counts a login toward a burst.
func (tr *Trimmer) NoteLogin() {
	tr.lastLogin.Store(time.Now().UnixNano())
	if tr.logins.Add(1) >= trimMinLogins && tr.armed.CompareAndSwap(false, true) {
		time.AfterFunc(trimQuiet, tr.check)
	}
}

// check returns freed memory to the OS once the burst is over.
func (tr *Trimmer) check() {
	if quiet := time.Since(time.Unix(0, tr.lastLogin.Load())); quiet < trimQuiet {
		time.AfterFunc(trimQuiet-quiet, tr.check)
		return
	}
	tr.logins.Store(0)
	tr.armed.Store(false)
	select {
	case <-tr.quit:
		return
	default:
	}
	debug.FreeOSMemory()
}
