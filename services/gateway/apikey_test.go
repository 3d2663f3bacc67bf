package gateway

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestAPIKeyCache(t *testing.T) {
	f := newFixture(t, Options{KeyCacheTTL: 10 * time.Second, KeyCacheInactiveTTL: 2 * time.Second, RateLimits: RateLimits{Off: true}})
	calls := func() int { return f.introspectionCount() }

	for range 5 {
		if w := f.do(t, "POST", "/v1/movies", adminKey, `{}`); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	}
	if got := calls(); got != 1 {
		t.Fatalf("%d introspections for 5 requests within the TTL, want 1", got)
	}
	f.clock.advance(11 * time.Second)
	f.do(t, "POST", "/v1/movies", adminKey, `{}`)
	if got := calls(); got != 2 {
		t.Fatalf("%d introspections after the TTL, want 2", got)
	}

	t.Run("inactive answers are cached for less time", func(t *testing.T) {
		before := calls()
		for range 3 {
			if w := f.do(t, "GET", "/v1/movies", revokedKey, ""); w.Code != 401 {
				t.Fatalf("status %d, want 401", w.Code)
			}
		}
		if got := calls() - before; got != 1 {
			t.Fatalf("%d introspections, want 1", got)
		}
		f.clock.advance(3 * time.Second)
		f.do(t, "GET", "/v1/movies", revokedKey, "")
		if got := calls() - before; got != 2 {
			t.Fatalf("%d introspections after the inactive TTL, want 2", got)
		}
	})

	t.Run("a failing catalog is not cached and is not the caller's fault", func(t *testing.T) {
		f.mu.Lock()
		f.introspectFail = true
		f.mu.Unlock()
		if w := f.do(t, "GET", "/v1/movies", userKey, ""); w.Code != 503 {
			t.Fatalf("status %d, want 503", w.Code)
		}
		f.mu.Lock()
		f.introspectFail = false
		f.mu.Unlock()
		if w := f.do(t, "GET", "/v1/movies", userKey, ""); w.Code != 200 {
			t.Fatalf("status %d after the catalog recovered, want 200", w.Code)
		}
	})

	t.Run("keys that cannot be keys never reach the catalog", func(t *testing.T) {
		before := calls()
		for _, h := range []string{"Bearer mq_ key", "Bearer mq_\x01", "Bearer mq_ä"} {
			w := f.doHeader(t, "GET", "/v1/movies", h)
			if w.Code != 401 {
				t.Fatalf("%q: status %d", h, w.Code)
			}
		}
		if got := calls() - before; got != 0 {
			t.Fatalf("%d introspections for malformed keys", got)
		}
	})
}

// TestConcurrentCallers runs many callers at once (meaningful under -race): one introspection per key
// however many requests arrive together, and the rate limiter's map stays consistent.
func TestConcurrentCallers(t *testing.T) {
	// TTLs far longer than the test, so the count below measures caching and single flight, not timing.
	f := newFixture(t, Options{KeyCacheTTL: time.Hour, KeyCacheInactiveTTL: time.Hour})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				key := []string{userKey, adminKey, revokedKey, ""}[(g+i)%4]
				w := f.from(t, "198.51.100."+strconv.Itoa(g), "GET", "/v1/movies", key)
				if w.Code != 200 && w.Code != 401 && w.Code != 429 {
					t.Errorf("status %d", w.Code)
				}
			}
		}()
	}
	wg.Wait()
	if got := f.introspectionCount(); got > 3 {
		t.Fatalf("%d introspections for 3 keys", got)
	}
}
