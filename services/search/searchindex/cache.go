package searchindex

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	"marquee/services/search"
)

// resultCache keeps search answers by normalized query, least recently used first out, within a budget of
// bytes. Each answer remembers the checkpoint it was computed at, and when it was last known to be the
// index's answer: an answer of the current checkpoint is exact and always served; an older one only within
// the staleness bound (Options.CacheMaxAge) of that time, so that writes, which move the checkpoint many
// times a second at peak, do not empty the cache, and every answer served holds every write applied longer
// than the bound ago. A newer answer replaces an older one of the same query.
type resultCache struct {
	mu     sync.Mutex
	max    int64
	size   int64
	maxAge time.Duration
	now    func() time.Time
	ll     *list.List // front: most recently used
	items  map[string]*list.Element
	stats  CacheStats
}

// CacheStats counts the searches the result cache was asked for.
type CacheStats struct {
	Hits      uint64 // answered with an answer of the current checkpoint
	StaleHits uint64 // answered with an older answer within the staleness bound
	Misses    uint64 // searched: no answer, or none recent enough
}

type cacheEntry struct {
	key  string
	res  search.Result
	at   time.Time // when res was last known to be the index's answer: computed, or found current
	size int64
}

func newResultCache(maxBytes int64, maxAge time.Duration, now func() time.Time) *resultCache {
	return &resultCache{max: maxBytes, maxAge: maxAge, now: now, ll: list.New(), items: map[string]*list.Element{}}
}

// cacheKey is the normalized query; "" if the query cannot be a key.
func cacheKey(q *search.Query) string {
	b, err := json.Marshal(q)
	if err != nil {
		return ""
	}
	return string(b)
}

// get returns a copy of the answer cached for key (the caller may set its fields; the hits are shared, read
// only) if it may answer now: it is of checkpoint, or of an older one but was current within the staleness
// bound, and in either case of atLeast or later. A stale answer says its age.
func (c *resultCache) get(key string, checkpoint, atLeast uint64, now time.Time) (*search.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	res := e.res
	age := now.Sub(e.at)
	switch {
	case res.Index.Version < atLeast:
		c.stats.Misses++
		return nil, false
	case res.Index.Version >= checkpoint:
		c.stats.Hits++
		e.at = now // still the index's answer: its staleness counts from the write that ends that
	case c.maxAge > 0 && age <= c.maxAge:
		c.stats.StaleHits++
		res.Index.Current = false
		res.Index.Age = max(age, time.Nanosecond) // stale, however young: an age says so
	default:
		c.stats.Misses++
		return nil, false
	}
	c.ll.MoveToFront(el)
	return &res, true
}

// put keeps res as the answer for key, known to be the index's at at, unless the cache holds a newer one.
func (c *resultCache) put(key string, res *search.Result, at time.Time) {
	e := &cacheEntry{key: key, res: *res, at: at, size: resultSize(key, res)}
	if e.size > c.max/8 {
		return // one answer may not take much of the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		old := el.Value.(*cacheEntry)
		if old.res.Index.Version > res.Index.Version {
			return // a search that began before a write finished after one that began after it
		}
		c.ll.Remove(el)
		c.size -= old.size
	}
	c.items[key] = c.ll.PushFront(e)
	c.size += e.size
	for c.size > c.max {
		last := c.ll.Back()
		old := last.Value.(*cacheEntry)
		c.ll.Remove(last)
		delete(c.items, old.key)
		c.size -= old.size
	}
}

// resultSize estimates the bytes an answer holds in memory.
func resultSize(key string, r *search.Result) int64 {
	n := int64(len(key) + 256 + len(r.DidYouMean) + len(r.NextCursor))
	for i := range r.Hits {
		h := &r.Hits[i]
		n += int64(512 + len(h.Title) + len(h.Overview) + len(h.Tagline) + len(h.PosterURL))
		for _, l := range [][]string{h.Directors, h.Cast, h.Genres, h.Keywords, h.Tags} {
			for _, s := range l {
				n += int64(16 + len(s))
			}
		}
		for k, v := range h.Highlights {
			n += int64(32 + len(k) + len(v))
		}
	}
	for name, f := range r.Facets {
		n += int64(64 + len(name))
		for _, v := range f.Values {
			n += int64(48 + len(v.Value))
		}
	}
	return n
}

// CacheStats returns the result cache's counters; zero without a cache.
func (x *Index) CacheStats() CacheStats {
	if x.cache == nil {
		return CacheStats{}
	}
	x.cache.mu.Lock()
	defer x.cache.mu.Unlock()
	return x.cache.stats
}
