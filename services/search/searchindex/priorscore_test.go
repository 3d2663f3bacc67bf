package searchindex_test

import (
	"math"
	"strings"
	"testing"

	"marquee/services/search/searchindex"
)

// TestPriorScoresMatchBleve checks the search's scoring, which finds each match's movie in a table of its
// segment's ids, against Bleve's custom-score query, which resolves each match's external id: on an index
// of several segments, with updated movies (their old documents deleted in older segments) and deleted
// ones, every match must have the same score both ways. An id read from the wrong document (a wrong
// segment offset, a deleted document's number) gives another movie's prior, and another score.
func TestPriorScoresMatchBleve(t *testing.T) {
	const n = 3000
	idx := buildSynth(t, t.TempDir(), n, searchindex.Options{})
	movies := synthMovies(loadVocab(t), n, 42) // the catalog buildSynth indexes
	var changes []searchindex.Change
	for i := 0; i < n; i += 7 { // new votes and ratings, in a segment of their own
		m := movies[i]
		votes, rating := *m.Votes*3+int64(i), math.Mod(*m.Rating+3.3, 10)
		m.Version, m.Votes, m.Rating = 2, &votes, &rating
		changes = append(changes, searchindex.Change{ID: m.ID, Version: 2, Movie: &m})
	}
	for i := 3; i < n; i += 50 {
		changes = append(changes, searchindex.Change{ID: movies[i].ID, Version: 3, Deleted: true})
	}
	MustApply(t, idx, changes...)

	texts := []string{
		strings.Fields(movies[0].Title)[0],
		strings.Join(strings.Fields(movies[1].Overview)[:2], " "),
		strings.Fields(movies[2].Overview)[0],
		movies[5].Directors[0],
	}
	for _, text := range texts {
		ours, bleves, err := searchindex.ScoresBothWays(idx, text)
		if err != nil {
			t.Fatal(err)
		}
		if len(ours) == 0 || len(ours) != len(bleves) {
			t.Fatalf("%q: %d matches scored here, %d by Bleve", text, len(ours), len(bleves))
		}
		for id, s := range ours {
			if b, ok := bleves[id]; !ok || math.Abs(s-b) > 1e-9*math.Abs(b) {
				t.Fatalf("%q: movie %s scores %v here, %v by Bleve", text, id, s, b)
			}
		}
		t.Logf("%q: %d matches, same scores", text, len(ours))
	}
}
