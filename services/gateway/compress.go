package gateway

import (
	"compress/gzip"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// gzipAnswers wraps a handler so that answers of a compressible type and of at least 1 KiB
// (gzhttp.DefaultMinSize) are gzipped for clients that accept gzip; smaller ones, HEAD answers and answers
// already encoded go out as they are. Every answer says it varies by Accept-Encoding, so caches keep the
// two forms apart.
var gzipAnswers = func() func(http.Handler) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.CompressionLevel(gzip.BestSpeed),
		gzhttp.EnableZstd(false),
		gzhttp.ContentTypeFilter(compressible),
	)
	if err != nil {
		panic(err) // the options are constant and valid: a programming error
	}
	return wrap
}()

func compressible(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/problem+json") ||
		strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/javascript") || strings.Contains(ct, "+json")
}
