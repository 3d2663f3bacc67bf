package searchindex

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"marquee/services/search"
)

// TestFacetsByDocument checks the facet fields' documents-to-terms index, which counts a few matches one by
// one: each document's terms are the ones whose documents hold it, a field of one term a document (the year,
// the rating) keeps 2 bytes a document rather than 6, and a field no document has keeps none.
func TestFacetsByDocument(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(5, 6))
	genres := []string{"Drama", "Comedy", "Horror", "Western", "Animation"}
	var changes []Change
	for id := int64(1); id <= 500; id++ {
		m := search.Movie{ID: id, Title: fmt.Sprintf("Movie %d", id)}
		if r.IntN(10) > 0 { // some have no year, no rating or no genre
			m.Year = new(1920 + r.IntN(100))
		}
		if r.IntN(4) > 0 {
			m.Rating = new(float64(r.IntN(100)) / 10)
		}
		for range r.IntN(4) {
			m.Genres = append(m.Genres, genres[r.IntN(len(genres))])
		}
		changes = append(changes, Change{ID: id, Version: 1, Movie: &m})
	}
	if _, err := x.Apply(context.Background(), changes, 1); err != nil {
		t.Fatal(err)
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.Close()
	for _, sg := range s.segs { // no movie has a runtime: nothing to index, and no index of zeros
		ff, err := sg.cache.facetTerms(sg.ss.Segment(), fieldRuntime)
		if err != nil {
			t.Fatal(err)
		}
		if ff.byDocument(sg.ss.Segment().Count()) || ff.one != nil || ff.offs != nil {
			t.Errorf("runtime, which no movie has: an index by document of %d and %d entries", len(ff.one), len(ff.offs))
		}
	}
	for _, c := range []struct {
		field  string
		single bool
	}{{fieldYear, true}, {fieldRating, true}, {fieldGenre, false}} {
		for _, sg := range s.segs {
			seg := sg.ss.Segment()
			ff, err := sg.cache.facetTerms(seg, c.field)
			if err != nil {
				t.Fatal(err)
			}
			docs := seg.Count()
			if !ff.byDocument(docs) {
				t.Fatalf("%s: no index by document", c.field)
			}
			bytes := 2*len(ff.one) + 4*len(ff.offs) + 2*len(ff.ords)
			t.Logf("%s: %d terms, %d documents, %d bytes by document", c.field, len(ff.terms), docs, bytes)
			if c.single && bytes > 2*int(docs) {
				t.Errorf("%s: %d bytes for %d documents of one value each, want 2 a document", c.field, bytes, docs)
			}
			for d := range uint32(docs) {
				got := make([]int, len(ff.terms))
				ff.count(d, got)
				for j, term := range ff.terms {
					if want := term.docs.Contains(d); got[j] != map[bool]int{false: 0, true: 1}[want] {
						t.Fatalf("%s: document %d counted %d times in %q, which holds it: %v", c.field, d, got[j], term.term, want)
					}
				}
			}
		}
	}
}
