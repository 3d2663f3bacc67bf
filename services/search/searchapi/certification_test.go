package searchapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
)

// TestCertificationFilter: certification= filters by any of its values in any letter case, and the
// certification facet counts every certification of the other filters' matches.
func TestCertificationFilter(t *testing.T) {
	idx, err := searchindex.Open(filepath.Join(t.TempDir(), "idx"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idx.Close() })
	movies := []search.Movie{
		{ID: 1, Version: 1, Title: "Heat", Genres: []string{"Crime"}, Certification: "R"},
		{ID: 2, Version: 1, Title: "Up", Genres: []string{"Animation"}, Certification: "PG"},
		{ID: 3, Version: 1, Title: "Zodiac", Genres: []string{"Crime"}, Certification: "R"},
		{ID: 4, Version: 1, Title: "Gone", Genres: []string{"Drama"}},
	}
	var changes []searchindex.Change
	for i := range movies {
		changes = append(changes, searchindex.Change{ID: movies[i].ID, Version: 1, Movie: &movies[i]})
	}
	if _, err := idx.Apply(context.Background(), changes, uint64(len(changes))); err != nil {
		t.Fatal(err)
	}
	status := func(context.Context) search.IndexStatus { return search.IndexStatus{Current: true} }
	h := searchapi.NewHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), idx, func(context.Context) error { return nil }, status)

	w := do(h, "/v1/movies?certification=r&facets=certification")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var res struct {
		Total int `json:"total"`
		Hits  []struct {
			ID            int64  `json:"id"`
			Certification string `json:"certification"`
		} `json:"hits"`
		Facets map[string]json.RawMessage `json:"facets"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || len(res.Hits) != 2 || res.Hits[0].Certification != "R" || res.Hits[1].Certification != "R" {
		t.Errorf("certification=r found %s", w.Body)
	}
	// The facet leaves out its own filter (multi-select), so it counts PG too.
	if got, want := string(res.Facets["certification"]), `[{"value":"R","count":2},{"value":"PG","count":1}]`; got != want {
		t.Errorf("certification facet %s, want %s", got, want)
	}
}
