package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

// limitBody caps request bodies; a handler reading past the limit gets an error it answers with 413.
func limitBody(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			httpx.Error(c, apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", limit))
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// limitQuery refuses query strings over limit bytes before anything else looks at them.
func limitQuery(limit int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if len(c.Request.URL.RawQuery) > limit {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "The query string is over %d bytes.", limit))
			return
		}
		c.Next()
	}
}
