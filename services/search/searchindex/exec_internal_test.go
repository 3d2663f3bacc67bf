package searchindex

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// TestExecutorLifetime: an executor answers within its search only. After close it refuses rather than
// take snapshots nobody would release, and a cancelled search's counts and facets stop with the
// context's error instead of running to the end.
func TestExecutorLifetime(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var changes []Change
	for id := int64(1); id <= 5; id++ {
		changes = append(changes, Change{ID: id, Version: 1, Movie: &search.Movie{ID: id, Title: "Quokka", Genres: []string{"Drama"}}})
	}
	if _, err := x.Apply(context.Background(), changes, 5); err != nil {
		t.Fatal(err)
	}
	all := query.NewMatchAllQuery()
	genres := x.facetDefs(&search.Query{})[search.FacetGenres]

	e := x.newExecutor(context.Background())
	if n, err := e.count(all); err != nil || n != 5 {
		t.Fatalf("count = %d, %v; want 5", n, err)
	}
	e.close()
	if _, err := e.count(all); !errors.Is(err, errClosed) {
		t.Errorf("count after close: %v, want %v", err, errClosed)
	}
	if _, err := e.facet(all, genres, 10); !errors.Is(err, errClosed) {
		t.Errorf("facet after close: %v, want %v", err, errClosed)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e = x.newExecutor(ctx)
	defer e.close()
	if _, err := e.count(all); !errors.Is(err, context.Canceled) {
		t.Errorf("count of a cancelled search: %v, want %v", err, context.Canceled)
	}
	if _, err := e.facet(all, genres, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("facet of a cancelled search: %v, want %v", err, context.Canceled)
	}
}
