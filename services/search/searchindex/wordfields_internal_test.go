package searchindex

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"github.com/blevesearch/vellum"

	"marquee/services/search"
)

// TestTypoVariantsOfEveryField: a word's typo variants in a text field, found with one walk of the
// segment's words dictionary, are exactly the ones a walk of that field's own dictionary finds, with the
// same distances, in every segment, for words of every field and misspellings of them.
func TestTypoVariantsOfEveryField(t *testing.T) {
	x, err := OpenWith(filepath.Join(t.TempDir(), "idx"), WithoutMerges(Options{Scratch: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(3, 4))
	vocab := strings.Fields("night nights knight day days dawn dusk love lover glove river rover driver " +
		"anna hanna hannah john jon joan noir drama dramas crime mime heist hesit alien aliens")
	words := func(k int) string {
		ws := make([]string, k)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		return strings.Join(ws, " ")
	}
	for batch := range 3 { // three segments
		var changes []Change
		for i := range 100 {
			id := int64(batch*100 + i + 1)
			changes = append(changes, Change{ID: id, Version: 1, Movie: &search.Movie{ID: id,
				Title: words(1 + r.IntN(3)), Directors: []string{words(2)}, Cast: []string{words(2), words(2)},
				Genres: []string{words(1)}, Keywords: []string{words(1)}, Tagline: words(3), Overview: words(8)}})
		}
		if _, err := x.Apply(context.Background(), changes, uint64(batch+1)*100); err != nil {
			t.Fatal(err)
		}
		// Persisted alone: the persister merges the in-memory segments it finds waiting into one.
		if err := x.WaitDurable(context.Background(), x.Written()); err != nil {
			t.Fatal(err)
		}
	}
	ir, err := x.reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ir.close()
	queries := slices.Clone(vocab)
	for _, w := range vocab {
		rs := []rune(w)
		rs[r.IntN(len(rs))] = 'a' + rune(r.IntN(26))
		queries = append(queries, string(rs), w+"s", w[1:])
	}
	segments, found := 0, 0
	err = ir.eachSegmentOf(func(seg segment.Segment, sc *segmentCache) error {
		segments++
		for _, field := range wordFieldNames {
			d, err := seg.Dictionary(field)
			if err != nil {
				return err
			}
			for _, q := range queries {
				for fuzz := 1; fuzz <= 2; fuzz++ {
					dfa, err := ir.levenshtein(q, fuzz)
					if err != nil {
						return err
					}
					want, err := dictEntries(d, dfa, nil, nil)
					if err != nil {
						return err
					}
					vs, err := sc.typoVariants(seg, q, fuzz, func() (vellum.Automaton, error) { return dfa, nil })
					if err != nil {
						return err
					}
					got := fieldEntries(vs, wordFieldBit(field))
					strip := func(es []index.DictEntry) []index.DictEntry {
						out := make([]index.DictEntry, len(es))
						for i, e := range es {
							out[i] = index.DictEntry{Term: e.Term, EditDistance: e.EditDistance}
						}
						return out
					}
					if !slices.Equal(strip(got), strip(want)) {
						t.Errorf("%s ~%d %q: words dictionary %v, field's own %v", field, fuzz, q, got, want)
					}
					found += len(want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if segments < 2 || found == 0 {
		t.Fatalf("%d segments, %d variants compared: the test compares nothing", segments, found)
	}
}
