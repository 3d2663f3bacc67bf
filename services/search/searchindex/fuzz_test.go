package searchindex_test

import (
	"context"
	"path/filepath"
	"testing"

	"marquee/pkg/apperr"
	"marquee/services/search"
)

// FuzzSearch: any query text and page either answers or is refused as Invalid; it never fails otherwise.
func FuzzSearch(f *testing.F) {
	var movies []search.Movie
	MustReadJSON(f, filepath.Join("testdata", "titles", "movies.json"), &movies)
	idx := MustOpen(f, filepath.Join(f.TempDir(), "idx"))
	MustIndex(f, idx, movies...)
	for _, s := range []string{"", "the godfater", `"crime dynasty"`, "-part", `-"part ii" coppola`, `"`, "?! -", "amélie", "go", `"a"`, `-the`, "x y z w v u"} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, text string, page int) {
		res, err := idx.Search(context.Background(), search.Query{Text: text, Page: page % 5, PerPage: 3})
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Search(%q, page %d): %v", text, page, err)
			}
			return
		}
		if uint64(len(res.Hits)) > res.Total {
			t.Fatalf("Search(%q): %d hits of %d", text, len(res.Hits), res.Total)
		}
	})
}
