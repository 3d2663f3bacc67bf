package searchindex_test

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// TestBrowseByPopularity checks browse pages, most popular first, against the order computed here from
// the movies themselves: the index sorts only the movies above a popularity floor, and a page must be the
// same as if it had sorted them all, whatever the filter, the page and the changes applied since opening.
func TestBrowseByPopularity(t *testing.T) {
	const n = 3000
	idx := buildSynth(t, t.TempDir(), n, searchindex.Options{})
	movies := synthMovies(loadVocab(t), n, 42) // the catalog buildSynth indexes
	// Changes: some movies leave, some become the most popular, some lose their popularity.
	var changes []searchindex.Change
	for i := 0; i < n; i += 11 {
		changes = append(changes, searchindex.Change{ID: movies[i].ID, Version: 9, Deleted: true})
		movies[i].ID = 0
	}
	for i := 5; i < n; i += 97 {
		m := movies[i]
		if m.ID == 0 {
			continue
		}
		m.Version, m.Popularity = 9, ptr(1e6+float64(i))
		changes = append(changes, searchindex.Change{ID: m.ID, Version: 9, Movie: &m})
		movies[i] = m
	}
	for i := 7; i < n; i += 89 {
		m := movies[i]
		if m.ID == 0 {
			continue
		}
		m.Version, m.Popularity = 9, nil
		changes = append(changes, searchindex.Change{ID: m.ID, Version: 9, Movie: &m})
		movies[i] = m
	}
	MustApply(t, idx, changes...)

	for _, c := range []struct {
		genre         string
		page, perPage int
	}{{"", 1, 20}, {"", 3, 20}, {"", 40, 25}, {"Drama", 1, 20}, {"Drama", 5, 20}, {"Western", 1, 10}, {"Western", 2, 50}} {
		var want []float64 // the popularities of the page, most popular first; -1 for none
		matches := uint64(0)
		for _, m := range movies {
			if m.ID == 0 || (c.genre != "" && !slices.Contains(m.Genres, c.genre)) {
				continue
			}
			matches++
			p := -1.0
			if m.Popularity != nil {
				p = *m.Popularity
			}
			want = append(want, p)
		}
		slices.SortFunc(want, func(a, b float64) int { return cmp.Compare(b, a) })
		want = want[min(len(want), (c.page-1)*c.perPage):min(len(want), c.page*c.perPage)]

		q := search.Query{Page: c.page, PerPage: c.perPage}
		if c.genre != "" {
			q.Genres = []string{c.genre}
		}
		res, err := idx.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, h := range res.Hits {
			p := -1.0
			if h.Popularity != nil {
				p = *h.Popularity
			}
			got = append(got, p)
		}
		if res.Total != matches || !slices.Equal(got, want) {
			t.Errorf("browse genre=%q page %d of %d: total %d, popularities %v;\nwant total %d, %v", c.genre, c.page, c.perPage, res.Total, got, matches, want)
		}
	}
}
