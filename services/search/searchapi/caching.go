package searchapi

import (
	"hash/fnv"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// versioned is an index that tells its checkpoint (searchindex.Index does): a list answer changes only
// when it moves.
type versioned interface {
	Checkpoint() (uint64, error)
}

// conditionalSearch answers "GET /v1/movies" with 304 Not Modified, before searching, when the client
// already holds the answer: its ETag is the index checkpoint and the query string, so it changes whenever
// an applied change could change the answer. The ETag is weak: the index lag in the body may differ. A
// request that waits for a version (min_version) always searches.
func conditionalSearch(idx any) gin.HandlerFunc {
	v, ok := idx.(versioned)
	return func(c *gin.Context) {
		if !ok || c.Request.Method != http.MethodGet || c.FullPath() != "/v1/movies" || c.Query("min_version") != "" {
			return
		}
		checkpoint, err := v.Checkpoint()
		if err != nil {
			return
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(c.Request.URL.Query().Encode())) // sorted by key: the same query, the same tag
		etag := `W/"` + strconv.FormatUint(checkpoint, 36) + "-" + strconv.FormatUint(h.Sum64(), 36) + `"`
		c.Header("ETag", etag)
		if c.GetHeader("If-None-Match") == etag {
			c.AbortWithStatus(http.StatusNotModified)
		}
	}
}
