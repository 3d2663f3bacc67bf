package gateway

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// gzipMinBytes is the smallest body worth compressing: below it gzip's header and the CPU cost more than
// the bytes saved.
const gzipMinBytes = 1024

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: never an error
	return zw
}}

// compress gzips answers of a compressible type and at least gzipMinBytes for clients that accept gzip.
// It buffers the start of the body to decide, so a small answer goes out as it is.
func compress() gin.HandlerFunc {
	return func(c *gin.Context) {
		// Every answer may differ by Accept-Encoding, so caches keep them apart; added, not set: CORS varies
		// by Origin.
		c.Writer.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(c.Request.Header.Get("Accept-Encoding")) || c.Request.Method == http.MethodHead {
			return
		}
		w := &gzipWriter{ResponseWriter: c.Writer, status: http.StatusOK}
		c.Writer = w
		c.Next()
		w.finish()
	}
}

// acceptsGzip reads an Accept-Encoding header: gzip (or *) listed and not refused with q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// gzipWriter holds back the status and the first gzipMinBytes of the body, then either compresses the
// rest of the answer or lets it through unchanged.
type gzipWriter struct {
	gin.ResponseWriter
	status  int
	written bool // WriteHeader called by the handler
	decided bool
	zw      *gzip.Writer // nil: passing through
	buf     bytes.Buffer
}

func (w *gzipWriter) WriteHeader(status int) {
	if !w.written {
		w.status, w.written = status, true
	}
}

func (w *gzipWriter) Write(b []byte) (int, error) {
	if !w.decided {
		w.buf.Write(b)
		if w.buf.Len() < gzipMinBytes {
			return len(b), nil
		}
		w.decide(true)
		if err := w.flushBuf(); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if w.zw != nil {
		return w.zw.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *gzipWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush is a no-op: the body is compressed whole (answers are small, and a flush would cut the decision).
func (w *gzipWriter) Flush() {}

func (w *gzipWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// decide sends the header, compressed if big is set and the answer suits it.
func (w *gzipWriter) decide(big bool) {
	w.decided = true
	h := w.Header()
	if big && w.status == http.StatusOK && h.Get("Content-Encoding") == "" && compressible(h.Get("Content-Type")) {
		h.Del("Content-Length")
		h.Set("Content-Encoding", "gzip")
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(w.ResponseWriter)
		w.zw = zw
	}
	w.ResponseWriter.WriteHeader(w.status)
}

func (w *gzipWriter) flushBuf() error {
	b := w.buf.Bytes()
	w.buf = bytes.Buffer{}
	var err error
	if w.zw != nil {
		_, err = w.zw.Write(b)
	} else if len(b) > 0 {
		_, err = w.ResponseWriter.Write(b)
	}
	return err
}

// finish sends what is held back and ends the gzip stream.
func (w *gzipWriter) finish() {
	if !w.decided {
		if !w.written && w.buf.Len() == 0 {
			return // nothing was answered through this writer
		}
		w.decide(false)
		_ = w.flushBuf()
	}
	if w.zw != nil {
		_ = w.zw.Close()
		w.zw.Reset(nil)
		gzipWriters.Put(w.zw)
		w.zw = nil
	}
}

func compressible(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/problem+json") ||
		strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/javascript") || strings.Contains(ct, "+json")
}
