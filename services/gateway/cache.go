package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// cachedReads are the public reads whose answers HTTP caches may keep. The search service tags them
// (ETag: the checkpoint the answer is of and the query for lists, the movie version for one movie) and
// answers 304 to a client that holds the answer it would be sent.
var cachedReads = map[string]bool{"/v1/movies": true, "/v1/movies/:id": true, "/v1/suggest": true}

// Cache policies of a successful public read: anonymous answers are the same for everyone, and any cache may
// keep them as long as the search service says (its Cache-Control: s-maxage is its staleness bound,
// cache_max_age), or cachePublic from a search service that says nothing; a caller's own are private.
const (
	cachePublic  = "public, max-age=5, s-maxage=5, stale-while-revalidate=5" // search's default cache_max_age, 5s
	cachePrivate = "private, no-cache"
)

// cacheControl sets Cache-Control on the successful answers (200, 304) of public reads; errors stay
// uncached.
func cacheControl() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodGet || !cachedReads[c.FullPath()] {
			return
		}
		// A caller's own answers, and reads that wait for a write to be indexed (whose answer may say it is
		// not current yet), are for that caller alone.
		_, caller := callerOf(c)
		c.Writer = &cacheWriter{ResponseWriter: c.Writer, private: caller || c.Query("min_version") != ""}
	}
}

// cacheWriter adds the cache policy to a successful answer's header.
type cacheWriter struct {
	gin.ResponseWriter
	private bool
	done    bool
}

func (w *cacheWriter) WriteHeader(status int) {
	if !w.done {
		w.done = true
		if status == http.StatusOK || status == http.StatusNotModified {
			h := w.Header()
			switch {
			case w.private:
				h.Set("Cache-Control", cachePrivate)
			case h.Get("Cache-Control") == "": // else search's own, matched to its staleness bound, stands
				h.Set("Cache-Control", cachePublic)
			}
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
