package searchindex

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
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

// TestWarm: after Warm every document of every segment has its prior kept, the one its movie's votes and
// rating give, so no search reads a movie id to rank a match, and every segment has its words dictionary
// and its text fields' lengths.
func TestWarm(t *testing.T) {
	// Without merges: a merge finishing between Warm and the check would bring a segment no one
	// warmed, as any segment written after a warm-up starts cold.
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), WithoutMerges(Options{Scratch: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for batch := range 3 { // a segment each
		var changes []Change
		for k := range 40 {
			id := int64(batch*40 + k + 1)
			votes, rating := id*37, float64(id%10)
			changes = append(changes, Change{ID: id, Version: 1, Movie: &search.Movie{ID: id, Title: "Quokka", Votes: &votes, Rating: &rating}})
		}
		if _, err := x.Apply(context.Background(), changes, uint64(batch+1)); err != nil {
			t.Fatal(err)
		}
		// On disk before the next batch: the persister merges the in-memory segments it finds waiting
		// into one, and it replaces each with the segment it wrote, whose cache starts cold as after
		// a merge.
		if err := x.WaitDurable(context.Background(), x.Written()); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.Close()
	if len(s.segs) != 3 {
		t.Fatalf("%d segments, want the 3 batches' own", len(s.segs))
	}
	seen := 0
	for i, sg := range s.segs {
		if sg.cache.wordFields == nil {
			t.Errorf("segment %d has no words dictionary", i)
		} else if ok, _ := sg.cache.wordFields.Contains([]byte("quokka")); !ok {
			t.Errorf("segment %d: the words dictionary lacks the title's word", i)
		}
		if sg.cache.lengths == nil || !sg.cache.lengths.fits[0] || sg.cache.docs[0].lens[0] != 1 {
			t.Errorf("segment %d: its text fields' lengths were not read", i)
		}
		for d := range sg.ss.Segment().Count() {
			id, err := sg.ss.DocID(d)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.ParseInt(string(id), 10, 64)
			votes, rating := float64(n*37), float64(n%10)
			if got, want := sg.cache.get(d), x.rank.prior(votes, rating, true, true); got != want {
				t.Errorf("segment %d document %d (movie %d): prior %v kept, want %v", i, d, n, got, want)
			}
			seen++
		}
	}
	if seen < 120 {
		t.Errorf("%d documents seen, want the 120 movies", seen)
	}
}

// TestBackgroundWorkOnAClosedIndex: a rebuild closes the old index while its compaction or priors may
// still run; they then fail with errIndexClosed instead of panicking on the nil snapshot a closed scorch
// index hands out.
func TestBackgroundWorkOnAClosedIndex(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true})
	if err != nil {
		t.Fatal(err)
	}
	m := &search.Movie{ID: 1, Title: "Quokka"}
	if _, err := x.Apply(context.Background(), []Change{{ID: 1, Version: 1, Movie: m}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Segments(); !errors.Is(err, errIndexClosed) {
		t.Errorf("Segments: %v, want %v", err, errIndexClosed)
	}
	if err := x.Compact(context.Background()); !errors.Is(err, errIndexClosed) {
		t.Errorf("Compact: %v, want %v", err, errIndexClosed)
	}
	if err := x.Warm(context.Background()); !errors.Is(err, errIndexClosed) {
		t.Errorf("Warm: %v, want %v", err, errIndexClosed)
	}
}
