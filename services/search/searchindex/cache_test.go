package searchindex_test

import (
	"context"
	"path/filepath"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestResultCacheFollowsCheckpoint checks that cached answers are the searched ones, that a caller's change
// to an answer does not reach the cache, and that an applied change is seen at once.
func TestResultCacheFollowsCheckpoint(t *testing.T) {
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	year := 1999
	MustIndex(t, idx, search.Movie{ID: 1, Version: 1, Title: "The Matrix", Year: &year, Genres: []string{"Sci-Fi"}})
	ctx := context.Background()
	q := search.Query{Text: "matrix"}
	first, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	first.Index.Lag = 99 // as the API handler does
	second, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := second.Total, uint64(1); got != want {
		t.Fatalf("Total=%d, want %d", got, want)
	}
	if second.Index.Lag != 0 {
		t.Errorf("Lag=%d: a caller's change reached the cache", second.Index.Lag)
	}
	MustIndex(t, idx, search.Movie{ID: 2, Version: 1, Title: "The Matrix Reloaded", Genres: []string{"Sci-Fi"}})
	third, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := third.Total, uint64(2); got != want {
		t.Errorf("Total after an applied change=%d, want %d", got, want)
	}
}
