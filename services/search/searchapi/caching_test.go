package searchapi_test

import (
	"context"
	"testing"
)

// TestSearchNotModified checks the list ETag: the same query at the same index version is answered 304
// without a body; another query, or min_version, is searched.
func TestSearchNotModified(t *testing.T) {
	h := newHandler(t, func(context.Context) error { return nil })
	first := do(h, "/v1/movies?q=matrix&per_page=5")
	etag := first.Header().Get("ETag")
	if first.Code != 200 || etag == "" {
		t.Fatalf("status=%d ETag=%q, want 200 and a tag", first.Code, etag)
	}
	same := do(h, "/v1/movies?per_page=5&q=matrix", "If-None-Match", etag) // parameter order does not matter
	if got, want := same.Code, 304; got != want {
		t.Fatalf("status=%d, want %d", got, want)
	}
	if same.Body.Len() != 0 {
		t.Errorf("304 with a body of %d bytes", same.Body.Len())
	}
	if got := do(h, "/v1/movies?q=matrix&per_page=6", "If-None-Match", etag).Code; got != 200 {
		t.Errorf("other query: status=%d, want 200", got)
	}
	if got := do(h, "/v1/movies?q=matrix&per_page=5&min_version=1", "If-None-Match", etag).Code; got == 304 {
		t.Errorf("min_version: status=304, want a search")
	}
}
