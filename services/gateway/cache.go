package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// cachedReads are the public reads whose answers HTTP caches may keep. The search service tags them
// (ETag: the index checkpoint and the query for lists, the movie version for one movie) and answers 304 to
// a client that holds the current answer.
var cachedReads = map[string]bool{"/v1/movies": true, "/v1/movies/:id": true, "/v1/suggest": true}

// Cache policies of a successful public read: anonymous answers are the same for everyone and may be kept a
// few seconds by any cache, and served stale while it revalidates; a caller's own are private.
const (
	cachePublic  = "public, max-age=5, stale-while-revalidate=30"
	cachePrivate = "private, no-cache"
)

// cacheControl sets Cache-Control on the successful answers (200, 304) of public reads; errors stay
// uncached.
func cacheControl() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodGet || !cachedReads[c.FullPath()] {
			return
		}
		policy := cachePublic
		// A caller's own answers, and reads that wait for a write to be indexed (whose answer may say it is
		// not current yet), are for that caller alone.
		if _, ok := callerOf(c); ok || c.Query("min_version") != "" {
			policy = cachePrivate
		}
		c.Writer = &cacheWriter{ResponseWriter: c.Writer, policy: policy}
	}
}

// cacheWriter adds the cache policy to a successful answer's header.
type cacheWriter struct {
	gin.ResponseWriter
	policy string
	done   bool
}

func (w *cacheWriter) WriteHeader(status int) {
	if !w.done {
		w.done = true
		if status == http.StatusOK || status == http.StatusNotModified {
			h := w.Header()
			h.Set("Cache-Control", w.policy)
			h.Add("Vary", "Authorization")
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *cacheWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *cacheWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

func (w *cacheWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
