package searchapi

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// versioned is an index that tells its checkpoint (searchindex.Index does): a list answer changes only
// when it moves.
type versioned interface {
	Checkpoint() (uint64, error)
}

// listETag identifies a list answer: the checkpoint it was computed at and the query string. It is weak:
// the index lag in the body may differ. The checkpoint is the answer's own, which may be older than the
// index's when the answer came from the result cache within its staleness bound.
func listETag(checkpoint uint64, r *http.Request) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(r.URL.Query().Encode())) // sorted by key: the same query, the same tag
	return `W/"` + strconv.FormatUint(checkpoint, 36) + "-" + strconv.FormatUint(h.Sum64(), 36) + `"`
}

// holdsCurrent reports whether the client already holds the answer of the index as it is now: then 304
// needs no search. (A client holding an older answer may still get 304 once the search says which answer it
// would be sent.)
func holdsCurrent(idx any, r *http.Request) bool {
	inm := r.Header.Get("If-None-Match")
	v, ok := idx.(versioned)
	if inm == "" || !ok {
		return false
	}
	checkpoint, err := v.Checkpoint()
	return err == nil && inm == listETag(checkpoint, r)
}

// wantsFresh reports whether the request asks, as HTTP lets a client ask any cache, for no stored answer
// without revalidation (Cache-Control: no-cache, or Pragma: no-cache): then it gets the index as it is,
// whatever the staleness bound. A check that the index holds what it should asks so. Cache-Control:
// max-age=0 does not: a browser's fetch that revalidates its own HTTP cache (the web page's) sends it with
// every request, which would leave the page's searches no use of the result cache.
func wantsFresh(r *http.Request) bool {
	for d := range strings.SplitSeq(r.Header.Get("Cache-Control"), ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d == "no-cache" {
			return true
		}
	}
	return r.Header.Get("Pragma") == "no-cache"
}

// computedNow is the Query.MinIndexVersion of a read that must not get a cached answer: one that waited for
// its writes, or asked for the index as it is. Not the checkpoint after the wait: with shards it is their
// least, which may not count a write the wait saw in its own shard, and a cached answer of it would lack it.
const computedNow = math.MaxUint64

// cachePolicy is the Cache-Control of a successful public read. Shared caches (a CDN) may keep an answer as
// long as the service's own result cache may (maxAge, counted from when it was computed: stale answers say
// their Age), and serve it that long again while they revalidate, so an answer a CDN gives is at most
// 2 × maxAge behind the index. With no staleness allowed they revalidate every time (the ETag makes that a
// cheap 304 while nothing changed). A read that waits for a write (min_version) is for its caller alone.
func cachePolicy(maxAge time.Duration, waited bool) string {
	s := int64(maxAge / time.Second)
	switch {
	case waited:
		return "private, no-cache"
	case s <= 0:
		return "public, no-cache"
	default:
		return fmt.Sprintf("public, max-age=%d, s-maxage=%d, stale-while-revalidate=%d", s, s, s)
	}
}

// setAge sets the Age header of a cached answer the index has moved past: caches downstream count their
// freshness from when it was computed, not from now.
func setAge(c *gin.Context, age time.Duration) {
	if age > 0 {
		c.Header("Age", strconv.FormatInt(ageSeconds(age), 10))
	}
}

// ageSeconds is an answer's age in whole seconds, rounded up, so that no cache keeps it longer; 0 for none.
func ageSeconds(age time.Duration) int64 { return int64((age + time.Second - 1) / time.Second) }
