package searchindex

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"

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
	key string
	// data is the answer but its Index, encoded: one allocation, which the collector does not scan, and
	// whose size is its length. Kept as a Result, an answer of ten hits was hundreds of small objects
	// spread over the heap, half as large again as its estimate, and they kept partly empty spans alive.
	data  []byte
	index search.IndexStatus
	at    time.Time // when the answer was last known to be the index's: computed, or found current
	size  int64
}

// answerCoding encodes an answer so that it decodes to what it was: the fields that are zero, nil lists
// and maps among them, are left out (and stay nil), and a duration (Index.Age, always 0 here) is a number.
var answerCoding = jsonv2.JoinOptions(jsonv2.OmitZeroStructFields(true), jsonv1.FormatDurationAsNano(true))

// entryOverhead is an entry's memory beyond its key and data: the entry, its list element and map slot.
const entryOverhead = 192

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

// get returns the answer cached for key, a copy of its own, if it may answer now: it is of checkpoint, or
// of an older one but was current within the staleness bound, and in either case of atLeast or later. A
// stale answer says its age.
func (c *resultCache) get(key string, checkpoint, atLeast uint64, now time.Time) (*search.Result, bool) {
	data, index, ok := c.lookup(key, checkpoint, atLeast, now)
	if !ok {
		return nil, false
	}
	res := &search.Result{}
	if err := jsonv2.Unmarshal(data, res, answerCoding); err != nil {
		return nil, false // it was encoded from a Result: cannot happen
	}
	res.Index = index
	return res, true
}

// lookup finds the entry get may answer with and counts the request.
func (c *resultCache) lookup(key string, checkpoint, atLeast uint64, now time.Time) ([]byte, search.IndexStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		return nil, search.IndexStatus{}, false
	}
	e := el.Value.(*cacheEntry)
	index := e.index
	age := now.Sub(e.at)
	switch {
	case index.Version < atLeast:
		c.stats.Misses++
		return nil, index, false
	case index.Version >= checkpoint:
		c.stats.Hits++
		e.at = now // still the index's answer: its staleness counts from the write that ends that
	case c.maxAge > 0 && age <= c.maxAge:
		c.stats.StaleHits++
		index.Current = false
		index.Age = max(age, time.Nanosecond) // stale, however young: an age says so
	default:
		c.stats.Misses++
		return nil, index, false
	}
	c.ll.MoveToFront(el)
	return e.data, index, true // data is never changed once stored
}

// put keeps res as the answer for key, known to be the index's at at, unless the cache holds a newer one.
func (c *resultCache) put(key string, res *search.Result, at time.Time) {
	body := *res
	body.Index = search.IndexStatus{}
	data, err := jsonv2.Marshal(&body, answerCoding)
	if err != nil {
		return
	}
	e := &cacheEntry{key: key, data: data, index: res.Index, at: at, size: int64(len(key)+cap(data)) + entryOverhead}
	if e.size > c.max/8 {
		return // one answer may not take much of the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		old := el.Value.(*cacheEntry)
		if old.index.Version > res.Index.Version {
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

// CacheStats returns the result cache's counters; zero without a cache.
func (x *Index) CacheStats() CacheStats {
	if x.cache == nil {
		return CacheStats{}
	}
	x.cache.mu.Lock()
	defer x.cache.mu.Unlock()
	return x.cache.stats
}
