package ttlcache

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func keysOf[K comparable, V any](c *Cache[K, V]) []K {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []K
	for k := range c.m {
		out = append(out, k)
	}
	return out
}

func sortedKeys(c *Cache[string, int]) []string {
	ks := keysOf(c)
	sort.Strings(ks)
	return ks
}

func TestCache_GetPut(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	if v, ok := c.Get("a"); ok || v != 0 {
		t.Fatalf("get on empty cache = %d, %v", v, ok)
	}
	c.Put("a", 1, time.Time{})
	c.Put("b", 2, time.Time{})
	c.Put("a", 3, time.Time{}) // replaces
	for k, want := range map[string]int{"a": 3, "b": 2} {
		if v, ok := c.Get(k); !ok || v != want {
			t.Errorf("get(%q) = %d, %v; want %d", k, v, ok, want)
		}
	}
	if _, ok := c.Get("c"); ok {
		t.Error("get of a key never put succeeded")
	}
}

func TestCache_Get_Expiry(t *testing.T) {
	tests := []struct {
		name     string
		ttl      time.Duration
		notAfter time.Duration // from now; 0 = no bound
		goneAt   time.Duration // gone after this long
	}{
		{"TTL", 100 * time.Millisecond, 0, 200 * time.Millisecond},
		{"NotAfterEarlier", time.Hour, 100 * time.Millisecond, 200 * time.Millisecond},
		{"NotAfterLaterIgnored", 100 * time.Millisecond, time.Hour, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New[string, int](tt.ttl, 10)
			var bound time.Time
			if tt.notAfter != 0 {
				bound = time.Now().Add(tt.notAfter)
			}
			c.Put("k", 1, bound)
			if _, ok := c.Get("k"); !ok {
				t.Fatal("entry gone right after put")
			}
			time.Sleep(tt.goneAt)
			if _, ok := c.Get("k"); ok {
				t.Errorf("entry still there after %s", tt.goneAt)
			}
		})
	}
}

func TestCache_Put_NotAfterInPast(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	c.Put("expired-token", 1, time.Now().Add(-time.Second))
	if _, ok := c.Get("expired-token"); ok {
		t.Error("an entry whose notAfter has passed was returned")
	}
}

func TestCache_RemoveIf(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	for i, k := range []string{"a", "b", "c", "d"} {
		c.Put(k, i, time.Time{})
	}
	c.RemoveIf(func(k string, v int) bool { return k == "a" || v == 2 })
	if diff := cmp.Diff([]string{"b", "d"}, sortedKeys(c)); diff != "" {
		t.Errorf("keys after RemoveIf (-want +got):\n%s", diff)
	}
	c.RemoveIf(func(string, int) bool { return false })
	if len(keysOf(c)) != 2 {
		t.Error("RemoveIf that matches nothing removed entries")
	}
	c.RemoveIf(func(string, int) bool { return true })
	if len(keysOf(c)) != 0 {
		t.Error("RemoveIf that matches everything left entries")
	}
}

func TestCache_Put_MaxSize(t *testing.T) {
	const max = 4
	c := New[string, int](time.Minute, max)
	for i := range 100 {
		c.Put(fmt.Sprint(i), i, time.Time{})
		if n := len(keysOf(c)); n > max {
			t.Fatalf("cache holds %d entries after %d puts, max %d", n, i+1, max)
		}
		if v, ok := c.Get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("the entry just put is missing: %d, %v", v, ok)
		}
	}
}

func TestCache_Put_FullDropsExpiredFirst(t *testing.T) {
	c := New[string, int](time.Minute, 3)
	c.Put("old", 0, time.Now().Add(10*time.Millisecond))
	c.Put("live1", 1, time.Time{})
	c.Put("live2", 2, time.Time{})
	time.Sleep(20 * time.Millisecond)
	c.Put("new", 3, time.Time{})
	if diff := cmp.Diff([]string{"live1", "live2", "new"}, sortedKeys(c)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

// TestCache_Put_FullReplaceKeepsOthers: replacing an entry of a full
// cache does not make room, so it must not flush the other entries.
func TestCache_Put_FullReplaceKeepsOthers(t *testing.T) {
	c := New[string, int](time.Minute, 3)
	for i, k := range []string{"a", "b", "c"} {
		c.Put(k, i, time.Time{})
	}
	c.Put("b", 20, time.Time{})
	if diff := cmp.Diff([]string{"a", "b", "c"}, sortedKeys(c)); diff != "" {
		t.Errorf("keys after replacing b (-want +got):\n%s", diff)
	}
	if v, _ := c.Get("b"); v != 20 {
		t.Errorf("b = %d, want 20", v)
	}
}

func TestCache_Concurrent(t *testing.T) {
	c := New[int, int](time.Minute, 50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := (g*1000 + i) % 97
				c.Put(k, k, time.Time{})
				if v, ok := c.Get(k); ok && v != k {
					t.Errorf("get(%d) = %d", k, v)
				}
				if i%100 == 0 {
					c.RemoveIf(func(k, _ int) bool { return k%2 == 0 })
				}
			}
		}()
	}
	wg.Wait()
	if n := len(keysOf(c)); n > 50 {
		t.Errorf("cache holds %d entries, max 50", n)
	}
}
