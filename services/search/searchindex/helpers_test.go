package searchindex_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// testShards is the number of shards the tests' indexes have: $MARQUEE_TEST_SHARDS, default 1. `make unit`
// runs this package's tests once more with 3, so every behaviour is checked on a sharded index too.
func testShards() int {
	n, _ := strconv.Atoi(os.Getenv("MARQUEE_TEST_SHARDS"))
	return max(n, 1)
}

// openWith opens the index at path with opts, split into testShards shards unless opts says otherwise.
func openWith(path string, opts searchindex.Options) (*searchindex.Index, error) {
	if opts.Shards == 0 {
		opts.Shards = testShards()
	}
	return searchindex.OpenWith(path, opts)
}

// MustOpen opens (or creates) the index at path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *searchindex.Index {
	tb.Helper()
	idx, err := openWith(path, searchindex.Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := idx.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return idx
}

// MustIndex upserts movies, one batch, at their own versions.
func MustIndex(tb testing.TB, idx *searchindex.Index, movies ...search.Movie) {
	tb.Helper()
	changes := make([]searchindex.Change, len(movies))
	for i := range movies {
		m := movies[i]
		changes[i] = searchindex.Change{ID: m.ID, Version: m.Version, Movie: &m}
	}
	cp, err := idx.Checkpoint()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := idx.Apply(context.Background(), changes, cp+uint64(len(movies))); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
}

// MustApply applies changes as one batch, the next of the stream.
func MustApply(tb testing.TB, idx *searchindex.Index, changes ...searchindex.Change) {
	tb.Helper()
	cp, err := idx.Checkpoint()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := idx.Apply(context.Background(), changes, cp+1); err != nil {
		tb.Fatalf("Apply: %v", err)
	}
}

// MustReadJSON decodes the JSON file at path into v.
func MustReadJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}
