package searchindex

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
)

// TestDictionaryReadsAsScorch: the dictionary reads that go to each segment themselves (did-you-mean's
// word counts and prefix check, the executor's prefix expansion) find what scorch's dictionary ranges over
// the whole snapshot find, in an index of three segments with deleted movies: the same counts of a word
// (deleted movies included, as a dictionary counts them), and the same words in the same order, each once.
func TestDictionaryReadsAsScorch(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), Options{Scratch: true, mergePlan: map[string]any{"MaxSegmentsPerTier": 1 << 20, "FloorSegmentSize": 1, "FloorSegmentFileSize": 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	titles := []string{"Star Wars", "Starman", "Stardust", "Star Trek", "Stand by Me", "The Stand", "Star", "Wargames", "War", "Warrior"}
	casts := []string{"Stan Laurel", "Starr Ringo", "Warren Beatty", "Stanley Tucci"}
	for batch := range 3 {
		var changes []Change
		for i, title := range titles {
			id := int64(batch*100 + i + 1)
			m := &search.Movie{ID: id, Title: title, Cast: []string{casts[(i+batch)%len(casts)]}, Genres: []string{"Drama"}}
			changes = append(changes, Change{ID: id, Version: 1, Movie: m})
		}
		if batch == 2 { // deletes movies of the first two segments: their words stay in those dictionaries
			changes = append(changes, Change{ID: 1, Version: 2, Deleted: true}, Change{ID: 103, Version: 2, Deleted: true})
		}
		if _, err := x.Apply(context.Background(), changes, uint64(batch+1)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := openExecShard(context.Background(), x, x.shards[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.r.Close()
	if len(s.segs) < 3 {
		t.Fatalf("%d segments, want three or more", len(s.segs))
	}
	ir, err := x.reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ir.close()

	scorchCount := func(field, word string) uint64 {
		var n uint64
		d, err := s.snap.FieldDictRange(field, []byte(word), []byte(word))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for e, err := d.Next(); e != nil || err != nil; e, err = d.Next() {
			if err != nil {
				t.Fatal(err)
			}
			if e.Term == word { // the range's end is a prefix's end: its words that start with word come too
				n += e.Count
			}
		}
		return n
	}
	scorchPrefix := func(field, prefix string) []string {
		d, err := s.snap.FieldDictPrefix(field, []byte(prefix))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var words []string
		for e, err := d.Next(); e != nil || err != nil; e, err = d.Next() {
			if err != nil {
				t.Fatal(err)
			}
			words = append(words, e.Term)
		}
		return words
	}

	for _, word := range []string{"star", "wars", "stand", "stan", "war", "warrior", "drama", "nothing"} {
		var want uint64
		for _, f := range spellFields {
			want += scorchCount(f, word)
		}
		got, err := ir.docFreq(spellFields, word)
		if err != nil || got != want {
			t.Errorf("docFreq(%q) = %d, %v; scorch counts %d", word, got, err, want)
		}
	}
	for _, prefix := range []string{"st", "sta", "star", "stan", "war", "w", "zz", "starx"} {
		var want bool
		for _, f := range spellFields {
			want = want || len(scorchPrefix(f, prefix)) > 0
		}
		if got, err := ir.hasPrefix(spellFields, prefix); err != nil || got != want {
			t.Errorf("hasPrefix(%q) = %v, scorch finds words: %v", prefix, got, want)
		}
		for _, f := range []string{fieldTitle, fieldCast} {
			want := scorchPrefix(f, prefix)
			n, err := s.prefixNode(f, prefix, 1)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			switch n.kind {
			case nodeTerm:
				if n.freq > 0 || slices.Contains(want, n.term) {
					got = []string{n.term}
				}
			case nodeAny:
				for _, k := range n.kids {
					got = append(got, k.term)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("prefix %q in %s: %v, scorch finds %v", prefix, f, got, want)
			}
		}
	}
}
