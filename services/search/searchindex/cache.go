package searchindex

import (
	"container/list"
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"marquee/services/search"
)

// resultCache keeps search answers by query and index checkpoint, least recently used first out, within a
// budget of bytes. The checkpoint in the key is the invalidation: an applied batch moves it, and answers of
// the old checkpoint are never asked for again and age out.
type resultCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List // front: most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key  string
	res  search.Result
	size int64
}

func newResultCache(maxBytes int64) *resultCache {
	return &resultCache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
}

// cacheKey is the normalized query and the checkpoint; "" if the query cannot be a key.
func cacheKey(q *search.Query, checkpoint uint64) string {
	b, err := json.Marshal(q)
	if err != nil {
		return ""
	}
	return strconv.FormatUint(checkpoint, 10) + "|" + string(b)
}

// get returns a copy of the cached answer (the caller may set its fields; the hits are shared, read only).
func (c *resultCache) get(key string) (*search.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	res := el.Value.(*cacheEntry).res
	return &res, true
}

func (c *resultCache) put(key string, res *search.Result) {
	e := &cacheEntry{key: key, res: *res, size: resultSize(key, res)}
	if e.size > c.max/8 {
		return // one answer may not take much of the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
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

// Search answers q; see search.Searcher. With a cache (Options.CacheBytes) an answer for the same
// normalized query at the same checkpoint is served from memory.
func (x *Index) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	if x.cache == nil {
		return x.search(ctx, q)
	}
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	checkpoint, err := x.Checkpoint()
	if err != nil {
		return nil, err
	}
	key := cacheKey(&q, checkpoint)
	if res, ok := x.cache.get(key); ok {
		return res, nil
	}
	res, err := x.search(ctx, q)
	if err != nil {
		return nil, err
	}
	if key != "" && res.Index.Version == checkpoint {
		x.cache.put(key, res)
		cp := *res
		return &cp, nil
	}
	return res, nil
}
