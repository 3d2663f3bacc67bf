package searchindex_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"marquee/services/search"
)

// Flags of the golden runner: go test ./searchindex -run Golden -case titles -keep-index -update
var (
	flagCase   = flag.String("case", "", "run only this golden case (a folder of testdata)")
	flagKeep   = flag.Bool("keep-index", false, "keep the golden indexes on disk and log where they are")
	flagUpdate = flag.Bool("update", false, "rewrite the expectations in searches.json from the current results")
)

// goldenSearch is one request of searches.json and what it must answer.
type goldenSearch struct {
	Name    string   `json:"name"`
	Q       string   `json:"q,omitempty"`
	Genre   []string `json:"genre,omitempty"`
	Page    int      `json:"page,omitempty"`
	PerPage int      `json:"per_page,omitempty"`

	IDs    []int64                        `json:"ids"`              // the hits of the page, in order
	Total  uint64                         `json:"total"`            // all matches
	Facets map[string][]search.FacetValue `json:"facets,omitempty"` // checked when present
}

// TestGolden runs every case of testdata: it indexes movies.json into a new on-disk index and checks each
// request of searches.json against its expected hits, total and facet counts.
func TestGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || (*flagCase != "" && d.Name() != *flagCase) {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", d.Name())
			var movies []search.Movie
			MustReadJSON(t, filepath.Join(dir, "movies.json"), &movies)
			var searches []goldenSearch
			MustReadJSON(t, filepath.Join(dir, "searches.json"), &searches)

			path := filepath.Join(t.TempDir(), "idx")
			if *flagKeep {
				var err error
				if path, err = os.MkdirTemp("", "marquee-golden-"+d.Name()+"-"); err != nil {
					t.Fatal(err)
				}
				path = filepath.Join(path, "idx")
				t.Logf("index kept at %s", path)
			}
			idx := MustOpen(t, path)
			MustIndex(t, idx, movies...)

			for i, s := range searches {
				t.Run(s.Name, func(t *testing.T) {
					res, err := idx.Search(context.Background(), search.Query{Text: s.Q, Genres: s.Genre, Page: s.Page, PerPage: s.PerPage})
					if err != nil {
						t.Fatalf("Search: %v", err)
					}
					ids := hitIDs(res)
					if *flagUpdate {
						searches[i].IDs, searches[i].Total = ids, res.Total
						if s.Facets != nil {
							searches[i].Facets = res.Facets
						}
						return
					}
					if !slices.Equal(ids, s.IDs) {
						t.Errorf("ids=%v, want %v%s", ids, s.IDs, describeHits(res))
					}
					if got, want := res.Total, s.Total; got != want {
						t.Errorf("total=%d, want %d", got, want)
					}
					for name, want := range s.Facets {
						if got := res.Facets[name]; !slices.Equal(got, want) {
							t.Errorf("facet %s=%v, want %v", name, got, want)
						}
					}
				})
			}
			if *flagUpdate {
				// One search per line: a ranking change shows up as a one-line diff.
				b := []byte("[\n")
				for i, s := range searches {
					line, err := json.Marshal(s)
					if err != nil {
						t.Fatal(err)
					}
					b = append(append(b, "  "...), line...)
					if i < len(searches)-1 {
						b = append(b, ',')
					}
					b = append(b, '\n')
				}
				if err := os.WriteFile(filepath.Join(dir, "searches.json"), append(b, "]\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func hitIDs(res *search.Result) []int64 {
	ids := make([]int64, 0, len(res.Hits))
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

func describeHits(res *search.Result) string {
	s := "\nhits:"
	for _, h := range res.Hits {
		b, _ := json.Marshal(map[string]any{"id": h.ID, "title": h.Title, "score": h.Score})
		s += "\n  " + string(b)
	}
	return s
}
