package searchapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"marquee/services/search"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
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

// TestSearchStaleAnswer checks the HTTP side of the result cache's staleness bound: after a write, a cached
// answer is sent within the bound with the checkpoint it is of (index.version, ETag) and its Age, 304
// answers a client holding it, a read with min_version gets the write, and past the bound the query is
// searched again. A request with Cache-Control: no-cache gets the index as it is.
func TestSearchStaleAnswer(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	idx, err := searchindex.OpenWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{
		CacheBytes: 1 << 20, CacheMaxAge: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	write := func(id int64, title string, checkpoint uint64) {
		t.Helper()
		m := search.Movie{ID: id, Version: 1, Title: title}
		if _, err := idx.Apply(context.Background(), []searchindex.Change{{ID: id, Version: 1, Movie: &m}}, checkpoint); err != nil {
			t.Fatal(err)
		}
	}
	h := searchapi.NewHandlerWith(slog.New(slog.NewTextHandler(io.Discard, nil)), idx, searchapi.Deps{
		CacheMaxAge: 5 * time.Second,
		Status: func(context.Context) search.IndexStatus {
			cp, _ := idx.Checkpoint()
			return search.IndexStatus{Version: cp, Current: true}
		},
		Wait: func(_ context.Context, want map[int64]int64) bool {
			for id, v := range want {
				if have, _, _ := idx.Version(id); have < v {
					return false
				}
			}
			return true
		},
	})
	type answer struct {
		Total uint64 `json:"total"`
		Index struct {
			Version uint64 `json:"version"`
			Lag     uint64 `json:"lag"`
			Current bool   `json:"current"`
			Age     int64  `json:"age"`
		} `json:"index"`
	}
	read := func(w *httptest.ResponseRecorder) answer {
		t.Helper()
		var a answer
		if w.Code != 200 {
			t.Fatalf("status=%d, want 200: %s", w.Code, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	const public = "public, max-age=5, s-maxage=5, stale-while-revalidate=5"

	write(1, "The Matrix", 1)
	first := do(h, "/v1/movies?q=matrix")
	read(first)
	tag := first.Header().Get("ETag")
	if got := first.Header().Get("Cache-Control"); got != public {
		t.Errorf("Cache-Control=%q, want %q", got, public)
	}
	if got := first.Header().Get("Age"); got != "" {
		t.Errorf("a fresh answer has Age %q", got)
	}

	write(2, "The Matrix Reloaded", 2)
	now = now.Add(2 * time.Second)
	stale := do(h, "/v1/movies?q=matrix")
	a := read(stale)
	if a.Total != 1 || a.Index.Version != 1 || a.Index.Current || a.Index.Lag != 1 || a.Index.Age != 2 {
		t.Errorf("within the bound: %+v, want the cached answer: 1 movie, version 1, not current, lag 1, age 2", a)
	}
	if got := stale.Header().Get("ETag"); got != tag {
		t.Errorf("ETag=%q, want the cached answer's %q", got, tag)
	}
	if got := stale.Header().Get("Age"); got != "2" {
		t.Errorf("Age=%q, want 2", got)
	}
	if got := do(h, "/v1/movies?q=matrix", "If-None-Match", tag).Code; got != 304 {
		t.Errorf("If-None-Match of the cached answer: status=%d, want 304", got)
	}

	mine := do(h, "/v1/movies?q=matrix&min_version=2:1")
	if a := read(mine); a.Total != 2 || a.Index.Version != 2 || !a.Index.Current {
		t.Errorf("min_version 2:1: %+v, want 2 movies of version 2", a)
	}
	if got, want := mine.Header().Get("Cache-Control"), "private, no-cache"; got != want {
		t.Errorf("min_version: Cache-Control=%q, want %q", got, want)
	}
	if a := read(do(h, "/v1/movies?q=matrix")); a.Total != 2 {
		t.Errorf("after min_version: total=%d, want its fresher answer's 2", a.Total)
	}

	write(3, "The Matrix Resurrections", 3)
	now = now.Add(5*time.Second + time.Millisecond)
	fresh := do(h, "/v1/movies?q=matrix", "If-None-Match", tag)
	if a := read(fresh); a.Total != 3 || a.Index.Version != 3 || !a.Index.Current {
		t.Errorf("past the bound: %+v, want 3 movies of version 3, current", a)
	}
	if fresh.Header().Get("ETag") == tag || fresh.Header().Get("Age") != "" {
		t.Errorf("past the bound: ETag=%q Age=%q, want a new tag and no Age", fresh.Header().Get("ETag"), fresh.Header().Get("Age"))
	}
	write(4, "The Matrix Revisited", 4)
	now = now.Add(time.Second)
	if a := read(do(h, "/v1/movies?q=matrix")); a.Total != 3 {
		t.Errorf("within the bound: total=%d, want the cached 3", a.Total)
	}
	// A browser's fetch that revalidates its own cache sends max-age=0 with every request: not a request
	// for the index as it is, or the web page would never use the result cache.
	if a := read(do(h, "/v1/movies?q=matrix", "Cache-Control", "max-age=0")); a.Total != 3 {
		t.Errorf("Cache-Control: max-age=0: total=%d, want the cached 3", a.Total)
	}
	if a := read(do(h, "/v1/movies?q=matrix", "Cache-Control", "no-cache")); a.Total != 4 || a.Index.Version != 4 {
		t.Errorf("Cache-Control: no-cache: %+v, want 4 movies of version 4", a)
	}
}

// TestReadCachePolicy checks Cache-Control of the other public reads: shared caches may keep a movie and
// suggestions as long as the staleness bound, a read with min_version is private, and an error is not kept.
func TestReadCachePolicy(t *testing.T) {
	idx := MustIndex(t)
	h := searchapi.NewHandlerWith(slog.New(slog.NewTextHandler(io.Discard, nil)), idx, searchapi.Deps{
		CacheMaxAge: 30 * time.Second,
		Wait:        func(context.Context, map[int64]int64) bool { return true },
	})
	const public = "public, max-age=30, s-maxage=30, stale-while-revalidate=30"
	for target, want := range map[string]string{
		"/v1/movies/1":               public,
		"/v1/suggest?q=godf":         public,
		"/v1/movies/1?min_version=3": "private, no-cache",
		"/v1/movies/99":              "no-store",
		"/v1/movies?per_page=0":      "no-store",
	} {
		if got := do(h, target).Header().Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control=%q, want %q", target, got, want)
		}
	}
	// No staleness allowed: shared caches revalidate every time.
	h = searchapi.NewHandlerWith(slog.New(slog.NewTextHandler(io.Discard, nil)), idx, searchapi.Deps{})
	if got, want := do(h, "/v1/movies?q=heat").Header().Get("Cache-Control"), "public, no-cache"; got != want {
		t.Errorf("cache_max_age 0: Cache-Control=%q, want %q", got, want)
	}
}
