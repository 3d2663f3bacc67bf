package searchindex_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestCompact: Compact merges each shard down to at most two segments, every search answers as before (the
// same totals, hits, order and scores), and the documents of replaced and deleted versions are dropped.
func TestCompact(t *testing.T) {
	movies := synthMovies(loadVocab(t), 3000, 11)
	idx, err := openWith(filepath.Join(t.TempDir(), "idx"), searchindex.WithoutMerges(searchindex.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	ctx := context.Background()
	apply := func(ms []search.Movie, version int64, deleteEvery int) {
		for start := 0; start < len(ms); start += 100 {
			var changes []searchindex.Change
			for i := start; i < min(len(ms), start+100); i++ {
				m := ms[i]
				m.Version = version
				changes = append(changes, searchindex.Change{ID: m.ID, Version: version, Movie: &m, Deleted: deleteEvery > 0 && i%deleteEvery == 0})
			}
			MustApply(t, idx, changes...)
			// On disk before the next: the persister would merge batches waiting in memory into one.
			if err := idx.WaitDurable(ctx, idx.Written()); err != nil {
				t.Fatal(err)
			}
		}
	}
	classes := queryClasses(movies, 5, 3)
	answers := func() []*search.Result {
		var out []*search.Result
		for _, c := range classes {
			for _, q := range c.queries {
				res, err := idx.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, res)
			}
		}
		return out
	}
	compact := func() {
		if segs := mustSegments(t, idx); slices.Max(segs) <= 2 {
			t.Fatalf("segments before compacting: %v; the test needs more", segs)
		}
		if err := idx.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if segs := mustSegments(t, idx); slices.Max(segs) > 2 {
			t.Errorf("segments after compacting: %v, want at most 2 a shard", segs)
		}
	}

	// Scores depend on the documents a segment holds, deleted ones included (a word's document frequency),
	// so the answers are compared on movies never replaced.
	apply(movies, 1, 0)
	before := answers()
	compact()
	after := answers()
	n := 0
	for _, c := range classes {
		for _, q := range c.queries {
			if d := answerDiff(after[n], before[n]); d != "" {
				t.Errorf("%s %q: after compacting %s", c.name, q.Text, d)
			}
			n++
		}
	}

	apply(movies[:900], 2, 17) // new versions, and deletes
	compact()
	var full uint64
	for _, sizes := range searchindex.SegmentSizes(idx) {
		for _, s := range sizes {
			full += s
		}
	}
	if want := uint64(3000 - (900+16)/17); full != want {
		t.Errorf("the segments hold %d documents after compacting, want the %d live movies", full, want)
	}
}

func mustSegments(t *testing.T, idx *searchindex.Index) []int {
	t.Helper()
	segs, err := idx.Segments()
	if err != nil {
		t.Fatal(err)
	}
	return segs
}
