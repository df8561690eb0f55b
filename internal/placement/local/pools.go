package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// pools keeps instances ready ahead of creates, so a create rarely waits
// for a copy or a start:
//
//   - the warm pool: provisioned, running instances with their admin
//     password set, handed out as they are;
//   - spares: copies of the golden directory under spare/<id>, stopped.
//     Taking one is a rename into dbs/ (same filesystem), so a create that
//     finds the warm pool empty pays for a start but not for the copy.
//     Spares survive restarts as long as the golden recipe is unchanged;
//     a half-copied one (still named *.tmp) is removed at Open.
//
// One goroutine (run) refills both, one instance at a time, so refilling
// never competes hard with the creates it serves.
type pools struct {
	recipe   string // of the golden directory spares are copied from
	lay      layout.Layout
	runAs    pgbin.RunAs
	log      *slog.Logger
	warmMin  int // Config.WarmPool
	warmMax  int // Config.WarmPoolMax
	decay    time.Duration
	spareMax int
	golden   string // set by openSpares
	// provision makes a warm instance; discard removes one.
	provision func(context.Context) (*ready, error)
	discard   func(id string)

	mu     sync.Mutex
	warm   []*ready
	spares []string // ids of ready copies under spare/
	// target is the warm pool's current size goal (warmMin..warmMax);
	// lastMiss is when a create last found the warm pool empty.
	target   int
	lastMiss time.Time
	closed   bool

	refill chan struct{}
}

func newPools(cfg Config, lay layout.Layout, log *slog.Logger, provision func(context.Context) (*ready, error), discard func(string)) *pools {
	return &pools{lay: lay, runAs: cfg.RunAs, log: log, warmMin: cfg.WarmPool, warmMax: cfg.WarmPoolMax, decay: cfg.WarmDecay,
		spareMax: cfg.SparePool, provision: provision, discard: discard, target: cfg.WarmPool, refill: make(chan struct{}, 1)}
}

// spareMarker names the golden recipe a spare was copied from.
const spareMarker = "golden_version"

// takeWarm returns a warm instance, or nil when the pool is empty (which
// grows its target by one, up to warmMax).
func (p *pools) takeWarm() *ready {
	p.mu.Lock()
	var r *ready
	if n := len(p.warm); n > 0 {
		r = p.warm[n-1]
		p.warm = p.warm[:n-1]
	} else {
		p.lastMiss = time.Now()
		p.target = min(p.target+1, p.warmMax)
	}
	p.mu.Unlock()
	p.kick()
	return r
}

// takeSpare moves a spare into dbs/ and returns its id, or "" when none is left.
func (p *pools) takeSpare() string {
	defer p.kick()
	for {
		p.mu.Lock()
		n := len(p.spares)
		if n == 0 {
			p.mu.Unlock()
			return ""
		}
		id := p.spares[n-1]
		p.spares = p.spares[:n-1]
		p.mu.Unlock()
		src := p.lay.Spare(id).Dir
		_ = os.Remove(filepath.Join(src, spareMarker))
		if err := os.Rename(src, p.lay.DB(id).Dir); err != nil {
			p.log.Warn("take spare instance", logkey.DB, id, logkey.Err, err)
			_ = os.RemoveAll(src)
			continue
		}
		return id
	}
}

func (p *pools) kick() {
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// sizes reports how many warm instances and spares are ready now.
func (p *pools) sizes() (warm, spares int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.warm), len(p.spares)
}

// warmTarget is the warm pool's current size goal.
func (p *pools) warmTarget() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// close closes the warm instances' connections; the driver stops and
// removes the instances themselves with the others.
func (p *pools) close(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, r := range p.warm {
		r.conn.Close(ctx)
	}
	p.warm = nil
}

// run keeps the warm pool at its target and the spares at spareMax until
// quit, warm instances first (they make the fastest creates), and shrinks
// a warm pool that grew for a burst that is long over.
func (p *pools) run(quit <-chan struct{}) {
	shrink := time.NewTicker(time.Second)
	defer shrink.Stop()
	for {
		select {
		case <-quit:
			return
		case <-p.refill:
		case <-shrink.C:
			p.shrink()
			continue
		}
		for {
			p.mu.Lock()
			needWarm := !p.closed && len(p.warm) < p.target
			needSpare := !p.closed && len(p.spares) < p.spareMax
			p.mu.Unlock()
			var err error
			switch {
			case needWarm:
				err = p.fillWarm()
			case needSpare:
				err = p.fillSpare()
			}
			if !needWarm && !needSpare || errors.Is(err, placement.ErrClosed) {
				break
			}
			if err != nil {
				p.log.Error("fill instance pools", logkey.Err, err)
				select {
				case <-quit:
					return
				case <-time.After(5 * time.Second):
				}
			}
		}
	}
}

func (p *pools) fillWarm() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := p.provision(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed { // the driver stops and removes it with the other warm ones
		r.conn.Close(ctx)
		return placement.ErrClosed
	}
	p.warm = append(p.warm, r)
	return nil
}

// shrink returns the warm pool to warmMin once decay has passed without a
// miss, removing the surplus instances.
func (p *pools) shrink() {
	p.mu.Lock()
	if p.target <= p.warmMin || time.Since(p.lastMiss) < p.decay {
		p.mu.Unlock()
		return
	}
	p.target = p.warmMin
	var surplus []*ready
	if n := len(p.warm); n > p.target {
		surplus = append(surplus, p.warm[p.target:]...)
		p.warm = p.warm[:p.target]
	}
	p.mu.Unlock()
	for _, r := range surplus {
		r.conn.Close(context.Background())
		p.discard(r.in.id)
	}
}

// openSpares removes spares that are half-made or from another golden
// recipe and keeps the usable ones; new spares are copies of golden.
func (p *pools) openSpares(golden string) error {
	p.golden = golden
	if err := os.MkdirAll(p.lay.Spares(), 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(p.lay.Spares())
	if err != nil {
		return err
	}
	want := p.recipe
	for _, e := range entries {
		dir := filepath.Join(p.lay.Spares(), e.Name())
		b, err := os.ReadFile(filepath.Join(dir, spareMarker))
		if strings.HasSuffix(e.Name(), ".tmp") || err != nil || strings.TrimSpace(string(b)) != want {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			continue
		}
		p.spares = append(p.spares, e.Name())
	}
	return nil
}

// fillSpare copies the golden directory into a new spare.
func (p *pools) fillSpare() error {
	id := platform.NewID(platform.DatabaseIDLen)
	tmp := p.lay.Spare(id + ".tmp")
	fail := func(err error) error {
		_ = os.RemoveAll(tmp.Dir)
		return fmt.Errorf("make spare instance: %w", err)
	}
	if err := os.Mkdir(tmp.Dir, 0o700); err != nil {
		return fail(err)
	}
	if err := p.runAs.Chown(tmp.Dir); err != nil {
		return fail(err)
	}
	if err := dirtree.Copy(p.golden, tmp.Data); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(tmp.Dir, spareMarker), []byte(p.recipe+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Dir, p.lay.Spare(id).Dir); err != nil {
		return fail(err)
	}
	p.mu.Lock()
	p.spares = append(p.spares, id)
	p.mu.Unlock()
	return nil
}
