package ratelimit

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLimiter_RefusesAndRecovers: a burst passes, the next is 429 with
// Retry-After, and after that wait requests pass again.
func TestLimiter_RefusesAndRecovers(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New(Config{Now: c.Now})
	lim := Limit{RPS: 2, Burst: 5}
	for i := range 5 {
		d := l.Allow("k1", lim)
		if !d.Allowed || d.Remaining != 4-i || d.Limit != 5 {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := l.Allow("k1", lim)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 500*time.Millisecond {
		t.Fatalf("6th request: %+v, want refused with retry within 0.5 s", d)
	}
	w := httptest.NewRecorder()
	d.Refuse(w)
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" || w.Header().Get("RateLimit-Remaining") != "0" ||
		w.Header().Get("RateLimit-Limit") != "5" || w.Header().Get("RateLimit-Reset") != "3" {
		t.Fatalf("429 answer: %d %v", w.Code, w.Header())
	}
	// Another key is not affected.
	if !l.Allow("k2", lim).Allowed {
		t.Fatal("k2 limited by k1")
	}
	c.Advance(time.Second)
	if d := l.Allow("k1", lim); !d.Allowed {
		t.Fatalf("after 1 s: %+v", d)
	}
	// Raising the limit takes effect at once.
	c.Advance(10 * time.Second)
	for i := range 20 {
		if !l.Allow("k1", Limit{RPS: 100, Burst: 20}).Allowed {
			t.Fatalf("raised limit: request %d refused", i)
		}
	}
}

func TestLimiter_Bounded(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New(Config{Now: c.Now, MaxKeys: 100})
	for i := range 1000 {
		l.Allow(fmt.Sprint("k", i), Limit{RPS: 10, Burst: 10})
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("buckets = %d, want 100", n)
	}
	// Idle buckets go once full again.
	c.Advance(5 * time.Second)
	l.Allow("fresh", Limit{RPS: 10, Burst: 10})
	if n := l.Len(); n != 1 {
		t.Fatalf("buckets after idling = %d, want 1", n)
	}
}

func TestLimit_Valid(t *testing.T) {
	for l, want := range map[Limit]bool{{1, 1}: true, {0.5, 3}: true, {0, 1}: false, {1, 0}: false, {-1, 5}: false} {
		if l.Valid() != want {
			t.Errorf("%+v.Valid() = %v", l, !want)
		}
	}
}
