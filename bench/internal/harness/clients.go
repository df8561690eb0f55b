package harness

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clients runs n concurrent clients for d. Each calls open once, then its
// op until the time is up, and done at the end. It returns every op's
// latency, the wall time of the run and the first error of any client.
func Clients(n int, d time.Duration, open func() (op func() error, done func(), err error)) ([]time.Duration, time.Duration, error) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			op, done, err := open()
			if err == nil {
				for !stop.Load() {
					s := time.Now()
					if err = op(); err != nil {
						break
					}
					lat = append(lat, time.Since(s))
				}
				done()
			}
			mu.Lock()
			all = append(all, lat...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return all, time.Since(start), firstErr
}
