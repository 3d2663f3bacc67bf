package searchindex

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
)

// TestExpansionsSharedWhileSegmentsStay: a search takes the completions an earlier search found, without
// reading a dictionary, while the index's segments are the same; a batch that adds a segment makes the
// next search read them again and find the new word.
func TestExpansionsSharedWhileSegmentsStay(t *testing.T) {
	// Without merges, and each batch waited for until it is on disk (its segment in memory is then replaced
	// by the one on disk): the segments change only when the test writes.
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), WithoutMerges(Options{Scratch: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	apply := func(seq uint64, id int64, title string) {
		t.Helper()
		m := &search.Movie{ID: id, Title: title, Genres: []string{"Drama"}}
		if _, err := x.Apply(context.Background(), []Change{{ID: id, Version: 1, Movie: m}}, seq); err != nil {
			t.Fatal(err)
		}
		if err := x.WaitDurable(context.Background(), x.Written()); err != nil {
			t.Fatal(err)
		}
	}
	apply(1, 1, "Starman")
	apply(2, 2, "Stardust")

	completions := func() (words []string, reads int) {
		t.Helper()
		e := x.newExpansions(context.Background())
		defer e.close()
		v, ok := e.lookup(expansionKey{true, fieldTitle, "sta", 0}, func(r *dictReader) (any, error) {
			reads++
			return r.withPrefix(fieldTitle, "sta", maxCompletions)
		})
		if !ok {
			t.Fatal("no expansions")
		}
		return v.([]string), reads
	}
	first, reads := completions()
	if reads != 1 || !slices.Equal(first, []string{"stardust", "starman"}) {
		t.Fatalf("first search: %v after %d reads, want [stardust starman] after 1", first, reads)
	}
	again, reads := completions()
	if reads != 0 || !slices.Equal(again, first) {
		t.Fatalf("second search on the same segments: %v after %d reads, want %v after none", again, reads, first)
	}

	apply(3, 3, "Stalker")
	after, reads := completions()
	if reads != 1 || !slices.Equal(after, []string{"stalker", "stardust", "starman"}) {
		t.Fatalf("after a new batch: %v after %d reads, want the new word after 1 read", after, reads)
	}
}

// TestSharedExpansionsKeepTheNewestSet: a search of an older set of segments, still running when a newer
// set's expansions are kept, does not drop them; past the byte budget the expansions start again.
func TestSharedExpansionsKeepTheNewestSet(t *testing.T) {
	var c sharedExpansions
	k := func(w string) expansionKey { return expansionKey{true, fieldTitle, w, 0} }
	c.put("new", 7, k("sta"), []string{"star"})
	c.put("old", 5, k("wa"), []string{"war"})
	if _, ok := c.get("new", k("sta")); !ok {
		t.Fatal("an older set's put dropped the newer set's expansions")
	}
	if _, ok := c.get("old", k("wa")); ok {
		t.Fatal("an older set's expansion was kept")
	}
	big := make([]string, maxSharedExpansionBytes/64)
	for i := range big {
		big[i] = "abcdefghijklmnopqrstuvwxyz0123456789abcdefgh"
	}
	c.put("new", 7, k("a"), big)
	c.put("new", 7, k("b"), big)
	if _, ok := c.get("new", k("sta")); ok {
		t.Fatal("expansions past the byte budget were all kept")
	}
	if _, ok := c.get("new", k("b")); !ok || c.bytes > maxSharedExpansionBytes {
		t.Fatalf("the last expansion was not kept, or %d bytes are held", c.bytes)
	}
}
