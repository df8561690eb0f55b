package ratelimit

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a key's rate: RPS tokens a second into a bucket of Burst.
type Limit struct {
	RPS   float64 `json:"rps"`
	Burst int     `json:"burst"`
}

// Valid reports whether l can be enforced: RPS above 0, Burst at least 1.
func (l Limit) Valid() bool {
	return l.RPS > 0 && !math.IsInf(l.RPS, 0) && !math.IsNaN(l.RPS) && l.Burst >= 1
}

// Config configures a Limiter; zero values mean the defaults.
type Config struct {
	MaxKeys int              // buckets kept; default 100000
	Now     func() time.Time // default time.Now
}

// Limiter holds one bucket per key. It is safe for concurrent use and
// holds no goroutines.
type Limiter struct {
	cfg Config

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
	full time.Duration // time to refill from empty
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, buckets: map[string]*bucket{}}
}

// Decision is the outcome of one request against a key's bucket.
type Decision struct {
	Allowed    bool
	Limit      int           // the burst
	Remaining  int           // whole tokens left after this request
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until one token is there (when refused)
}

// Allow takes one token from key's bucket, created full with lim on first
// use and adjusted when lim changed since.
func (l *Limiter) Allow(key string, lim Limit) Decision {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.cfg.MaxKeys {
			l.evictLocked()
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(lim.RPS), lim.Burst)}
		l.buckets[key] = b
	} else if b.lim.Limit() != rate.Limit(lim.RPS) || b.lim.Burst() != lim.Burst {
		b.lim.SetLimitAt(now, rate.Limit(lim.RPS))
		b.lim.SetBurstAt(now, lim.Burst)
	}
	b.used = now
	b.full = time.Duration(float64(lim.Burst) / lim.RPS * float64(time.Second))
	d := Decision{Limit: lim.Burst, Allowed: b.lim.AllowN(now, 1)}
	tokens := b.lim.TokensAt(now)
	d.Remaining = max(0, int(math.Floor(tokens)))
	d.Reset = time.Duration((float64(lim.Burst) - tokens) / lim.RPS * float64(time.Second))
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - tokens) / lim.RPS * float64(time.Second))
	}
	return d
}

// sweepLocked drops buckets idle long enough to be full again, at most
// once a second, so the cost is spread over many calls.
func (l *Limiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.used) > b.full+time.Second {
			delete(l.buckets, k)
		}
	}
}

func (l *Limiter) evictLocked() {
	var oldest string
	var at time.Time
	for k, b := range l.buckets {
		if oldest == "" || b.used.Before(at) {
			oldest, at = k, b.used
		}
	}
	delete(l.buckets, oldest)
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// seconds rounds up: a client told 0 would retry at once.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// WriteHeaders sets RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (seconds), and Retry-After when refused.
func (d Decision) WriteHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", seconds(d.Reset))
	if !d.Allowed {
		h.Set("Retry-After", seconds(max(d.RetryAfter, time.Second)))
	}
}

// Refuse answers 429 for a refused decision, headers included.
func (d Decision) Refuse(w http.ResponseWriter) {
	d.WriteHeaders(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "rate limit exceeded; retry after " + seconds(max(d.RetryAfter, time.Second)) + " s"})
}
