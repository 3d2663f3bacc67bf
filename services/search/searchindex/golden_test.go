package searchindex_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"marquee/services/search"
)

// Flags of the golden runner: go test ./searchindex -run Golden -case titles -keep-index -update
var (
	flagCase   = flag.String("case", "", "run only this golden case (a folder of testdata)")
	flagKeep   = flag.Bool("keep-index", false, "keep the golden indexes on disk and log where they are")
	flagUpdate = flag.Bool("update", false, "rewrite the expectations in searches.json from the current results")
)

// goldenSearch is one request of searches.json and what it must answer. The request fields are named like
// the API's parameters.
type goldenSearch struct {
	Name       string   `json:"name"`
	Q          string   `json:"q,omitempty"`
	Genre      []string `json:"genre,omitempty"`
	GenreMode  string   `json:"genre_mode,omitempty"`
	Director   []string `json:"director,omitempty"`
	Cast       []string `json:"cast,omitempty"`
	YearMin    *float64 `json:"year_min,omitempty"`
	YearMax    *float64 `json:"year_max,omitempty"`
	RatingMin  *float64 `json:"rating_min,omitempty"`
	RatingMax  *float64 `json:"rating_max,omitempty"`
	RuntimeMin *float64 `json:"runtime_min,omitempty"`
	RuntimeMax *float64 `json:"runtime_max,omitempty"`
	Sort       string   `json:"sort,omitempty"`
	FacetsReq  []string `json:"facets_req,omitempty"`
	Page       int      `json:"page,omitempty"`
	PerPage    int      `json:"per_page,omitempty"`

	IDs        []int64                    `json:"ids"`                    // the hits of the page, in order
	Total      uint64                     `json:"total"`                  // all matches
	Matches    []search.Match             `json:"matches,omitempty"`      // how each hit matched, when present
	DidYouMean *string                    `json:"did_you_mean,omitempty"` // checked when present
	Facets     map[string]json.RawMessage `json:"facets,omitempty"`       // checked when present
}

func (s goldenSearch) query() search.Query {
	q := search.Query{
		Text: s.Q, Genres: s.Genre, GenreMode: search.GenreMode(s.GenreMode), Directors: s.Director, Cast: s.Cast,
		Year: search.Range{Min: s.YearMin, Max: s.YearMax}, Rating: search.Range{Min: s.RatingMin, Max: s.RatingMax},
		Runtime: search.Range{Min: s.RuntimeMin, Max: s.RuntimeMax}, Facets: s.FacetsReq, Page: s.Page, PerPage: s.PerPage,
	}
	for _, k := range strings.Split(s.Sort, ",") {
		if k == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(k, "-"); ok {
			q.Sort = append(q.Sort, search.SortKey{Field: rest, Desc: true})
		} else {
			q.Sort = append(q.Sort, search.SortKey{Field: k})
		}
	}
	return q
}

// facetJSON is a facet as the API writes it, for comparing with searches.json.
func facetJSON(f search.Facet) json.RawMessage {
	var v any
	if f.Stats != nil {
		v = map[string]*float64{"min": f.Stats.Min, "max": f.Stats.Max}
	} else {
		type value struct {
			Value string   `json:"value"`
			Count int      `json:"count"`
			From  *float64 `json:"from,omitempty"`
			To    *float64 `json:"to,omitempty"`
		}
		vals := []value{}
		for _, fv := range f.Values {
			vals = append(vals, value{fv.Value, fv.Count, fv.From, fv.To})
		}
		v = vals
	}
	b, _ := json.Marshal(v)
	return b
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
					res, err := idx.Search(context.Background(), s.query())
					if err != nil {
						t.Fatalf("Search: %v", err)
					}
					ids := hitIDs(res)
					if *flagUpdate {
						searches[i].IDs, searches[i].Total = ids, res.Total
						if s.Facets != nil {
							for name := range res.Facets {
								searches[i].Facets[name] = facetJSON(res.Facets[name])
							}
						}
						if s.Matches != nil {
							searches[i].Matches = hitMatches(res)
						}
						if s.DidYouMean != nil {
							searches[i].DidYouMean = &res.DidYouMean
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
						f, ok := res.Facets[name]
						if !ok {
							t.Errorf("no facet %s", name)
							continue
						}
						if got := facetJSON(f); !jsonEqual(got, want) {
							t.Errorf("facet %s=%s, want %s", name, got, want)
						}
					}
					if s.Matches != nil && !slices.Equal(hitMatches(res), s.Matches) {
						t.Errorf("matches=%v, want %v", hitMatches(res), s.Matches)
					}
					if s.DidYouMean != nil && res.DidYouMean != *s.DidYouMean {
						t.Errorf("did_you_mean=%q, want %q", res.DidYouMean, *s.DidYouMean)
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

func hitMatches(res *search.Result) []search.Match {
	ms := make([]search.Match, 0, len(res.Hits))
	for _, h := range res.Hits {
		ms = append(ms, h.Match)
	}
	return ms
}

func jsonEqual(a, b []byte) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}

func describeHits(res *search.Result) string {
	s := "\nhits:"
	for _, h := range res.Hits {
		b, _ := json.Marshal(map[string]any{"id": h.ID, "title": h.Title, "score": h.Score})
		s += "\n  " + string(b)
	}
	return s
}
