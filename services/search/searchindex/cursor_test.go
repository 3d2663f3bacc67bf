package searchindex_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
)

// TestCursorWalk: following next_cursor gives the same movies, in the same order, as paging, across the
// tiers of a text search and for sorts, and the last page has no cursor.
func TestCursorWalk(t *testing.T) {
	var movies []search.Movie
	MustReadJSON(t, filepath.Join("testdata", "titles", "movies.json"), &movies)
	idx := MustOpen(t, filepath.Join(t.TempDir(), "idx"))
	MustIndex(t, idx, movies...)
	ctx := context.Background()
	for _, q := range []search.Query{
		{Text: "coppola"},
		{Text: "the godfater"},
		{Text: "godfather batman"},
		{Text: "go"},
		{},
		{Sort: []search.SortKey{{Field: search.SortRuntime, Desc: true}, {Field: search.SortTitle}}},
		{Text: "the", Sort: []search.SortKey{{Field: search.SortYear}}},
	} {
		t.Run(q.Text+"/"+sortName(q.Sort), func(t *testing.T) {
			all := q
			all.PerPage = 100
			want, err := idx.Search(ctx, all)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			page := q
			page.PerPage = 2
			for range 20 {
				res, err := idx.Search(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				if res.Total != want.Total {
					t.Errorf("total=%d after the cursor, want %d", res.Total, want.Total)
				}
				got = append(got, hitIDs(res)...)
				if res.NextCursor == "" {
					break
				}
				page.Cursor = res.NextCursor
			}
			if !slices.Equal(got, hitIDs(want)) {
				t.Errorf("cursor walk %v, want %v", got, hitIDs(want))
			}
		})
	}
}

func sortName(keys []search.SortKey) string {
	s := ""
	for _, k := range keys {
		if k.Desc {
			s += "-"
		}
		s += k.Field + ","
	}
	return s
}
