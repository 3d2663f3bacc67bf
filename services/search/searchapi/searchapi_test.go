package searchapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
)

func ptr[T any](v T) *T { return &v }

// MustIndex opens an on-disk index holding a few movies, one of them deleted.
func MustIndex(tb testing.TB) *searchindex.Index {
	tb.Helper()
	idx, err := searchindex.Open(filepath.Join(tb.TempDir(), "idx"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = idx.Close() })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	movies := []search.Movie{
		{ID: 1, Version: 3, Title: "The Godfather", Year: ptr(1972), Directors: []string{"Francis Ford Coppola"}, Cast: []string{"Marlon Brando"}, Genres: []string{"Crime", "Drama"}, Overview: "A crime dynasty.", RuntimeMinutes: ptr(175), Rating: ptr(9.2), Votes: ptr(int64(2000000)), Popularity: ptr(90.0), CreatedAt: at, UpdatedAt: at},
		{ID: 2, Version: 1, Title: "Amélie", Year: ptr(2001), Directors: []string{"Jean-Pierre Jeunet"}, Cast: []string{"Audrey Tautou"}, Genres: []string{"Comedy", "Romance"}, Overview: "A shy waitress.", Popularity: ptr(60.0), CreatedAt: at, UpdatedAt: at},
		{ID: 3, Version: 1, Title: "Heat", Genres: []string{"Crime", "Drama"}, Popularity: ptr(50.0), CreatedAt: at, UpdatedAt: at},
		{ID: 4, Version: 1, Title: "Gone", Genres: []string{"Drama"}, CreatedAt: at, UpdatedAt: at},
	}
	var changes []searchindex.Change
	for i := range movies {
		changes = append(changes, searchindex.Change{ID: movies[i].ID, Version: movies[i].Version, Movie: &movies[i]})
	}
	changes = append(changes, searchindex.Change{ID: 4, Version: 2, Deleted: true})
	if _, err := idx.Apply(context.Background(), changes, uint64(len(changes))); err != nil {
		tb.Fatal(err)
	}
	return idx
}

func newHandler(tb testing.TB, ready func(context.Context) error) http.Handler {
	status := func(context.Context) search.IndexStatus { return search.IndexStatus{Lag: 2, Current: false} }
	return searchapi.NewHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), MustIndex(tb), ready, status)
}

func do(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSearch(t *testing.T) {
	h := newHandler(t, func(context.Context) error { return nil })
	long := strings.Repeat("a", search.MaxTextLen+1)
	tests := []struct {
		name    string
		target  string
		status  int
		ids     []int64
		total   uint64
		page    int
		perPage int
		problem string // the field the problem names, for 400s
	}{
		{name: "browse", target: "/v1/movies", status: 200, ids: []int64{1, 2, 3}, total: 3, page: 1, perPage: 20},
		{name: "typo", target: "/v1/movies?q=the+godfater", status: 200, ids: []int64{1}, total: 1, page: 1, perPage: 20},
		{name: "accents", target: "/v1/movies?q=amelie", status: 200, ids: []int64{2}, total: 1, page: 1, perPage: 20},
		{name: "genre", target: "/v1/movies?genre=Crime", status: 200, ids: []int64{1, 3}, total: 2, page: 1, perPage: 20},
		{name: "genres any of", target: "/v1/movies?genre=Romance&genre=Crime", status: 200, ids: []int64{1, 2, 3}, total: 3, page: 1, perPage: 20},
		{name: "paging", target: "/v1/movies?page=2&per_page=2", status: 200, ids: []int64{3}, total: 3, page: 2, perPage: 2},
		{name: "deleted movie is not found", target: "/v1/movies?q=gone", status: 200, ids: []int64{}, total: 0, page: 1, perPage: 20},
		{name: "page 0", target: "/v1/movies?page=0", status: 400, problem: "page"},
		{name: "page not a number", target: "/v1/movies?page=abc", status: 400, problem: "page"},
		{name: "per_page over the limit", target: "/v1/movies?per_page=1000", status: 400, problem: "per_page"},
		{name: "per_page 0", target: "/v1/movies?per_page=0", status: 400, problem: "per_page"},
		{name: "too deep", target: "/v1/movies?page=1000&per_page=100", status: 400, problem: "page"},
		{name: "q too long", target: "/v1/movies?q=" + long, status: 400, problem: "q"},
		{name: "too many words", target: "/v1/movies?q=" + strings.Repeat("a+", search.MaxTerms+1), status: 400, problem: "q"},
		{name: "genres all of", target: "/v1/movies?genre=Crime&genre=Drama&genre_mode=all", status: 200, ids: []int64{1, 3}, total: 2, page: 1, perPage: 20},
		{name: "bad genre mode", target: "/v1/movies?genre_mode=some", status: 400, problem: "genre_mode"},
		{name: "director any case", target: "/v1/movies?director=francis+ford+COPPOLA", status: 200, ids: []int64{1}, total: 1, page: 1, perPage: 20},
		{name: "cast without accents", target: "/v1/movies?cast=audrey+tautou", status: 200, ids: []int64{2}, total: 1, page: 1, perPage: 20},
		{name: "year range", target: "/v1/movies?year_min=1972&year_max=1990", status: 200, ids: []int64{1}, total: 1, page: 1, perPage: 20},
		{name: "rating range inclusive", target: "/v1/movies?rating_min=9.2", status: 200, ids: []int64{1}, total: 1, page: 1, perPage: 20},
		{name: "popularity range", target: "/v1/movies?popularity_max=60", status: 200, ids: []int64{2, 3}, total: 2, page: 1, perPage: 20},
		{name: "runtime range", target: "/v1/movies?runtime_min=100", status: 200, ids: []int64{1}, total: 1, page: 1, perPage: 20},
		{name: "sort by title", target: "/v1/movies?sort=title", status: 200, ids: []int64{2, 3, 1}, total: 3, page: 1, perPage: 20},
		{name: "sort by year, missing last", target: "/v1/movies?sort=-year", status: 200, ids: []int64{2, 1, 3}, total: 3, page: 1, perPage: 20},
		{name: "excluded word", target: "/v1/movies?q=crime+-dynasty", status: 200, ids: []int64{3}, total: 1, page: 1, perPage: 20},
		{name: "phrase", target: "/v1/movies?q=%22shy+waitress%22", status: 200, ids: []int64{2}, total: 1, page: 1, perPage: 20},
		{name: "year_min above year_max", target: "/v1/movies?year_min=2000&year_max=1990", status: 400, problem: "year_min"},
		{name: "rating not a number", target: "/v1/movies?rating_min=good", status: 400, problem: "rating_min"},
		{name: "unknown sort key", target: "/v1/movies?sort=-budget", status: 400, problem: "sort"},
		{name: "empty sort key", target: "/v1/movies?sort=rating,,title", status: 400, problem: "sort"},
		{name: "unknown facet", target: "/v1/movies?facets=genres,budget", status: 400, problem: "facets"},
		{name: "unknown parameter", target: "/v1/movies?year_from=1990", status: 400, problem: "year_from"},
		{name: "parameter twice", target: "/v1/movies?page=1&page=2", status: 400, problem: "page"},
		{name: "page and cursor", target: "/v1/movies?page=1&cursor=abc", status: 400, problem: "cursor"},
		{name: "bad cursor", target: "/v1/movies?cursor=abc", status: 400, problem: "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.target)
			if got, want := w.Code, tt.status; got != want {
				t.Fatalf("status=%d, want %d; body %s", got, want, w.Body)
			}
			if tt.status != 200 {
				p := MustProblem(t, w)
				if p.Errors[tt.problem] == "" {
					t.Errorf("problem %+v does not name %q", p, tt.problem)
				}
				return
			}
			var res struct {
				Total   uint64           `json:"total"`
				Page    int              `json:"page"`
				PerPage int              `json:"per_page"`
				Hits    []map[string]any `json:"hits"`
				Facets  map[string][]struct {
					Value string `json:"value"`
					Count int    `json:"count"`
				} `json:"facets"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			ids := []int64{}
			for _, h := range res.Hits {
				ids = append(ids, int64(h["id"].(float64)))
			}
			if got, want := ids, tt.ids; !slices.Equal(got, want) {
				t.Errorf("ids=%v, want %v", got, want)
			}
			if res.Total != tt.total || res.Page != tt.page || res.PerPage != tt.perPage {
				t.Errorf("total, page, per_page = %d, %d, %d; want %d, %d, %d", res.Total, res.Page, res.PerPage, tt.total, tt.page, tt.perPage)
			}
			if _, ok := res.Facets["genres"]; !ok {
				t.Errorf("no genres facet in %s", w.Body)
			}
		})
	}
}

// TestSearchShape pins the answer's JSON: it is a contract.
func TestSearchShape(t *testing.T) {
	h := newHandler(t, func(context.Context) error { return nil })
	w := do(h, "/v1/movies?genre=Comedy")
	if w.Code != 200 {
		t.Fatalf("status=%d: %s", w.Code, w.Body)
	}
	if got, want := w.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		t.Errorf("Content-Type=%q, want %q", got, want)
	}
	want := `{"total":1,"page":1,"per_page":20,"hits":[{"id":2,"title":"Amélie","year":2001,"directors":["Jean-Pierre Jeunet"],` +
		`"cast":["Audrey Tautou"],"genres":["Comedy","Romance"],"overview":"A shy waitress.","tagline":"","keywords":[],"tags":[],` +
		`"runtime_minutes":null,"rating":null,"votes":null,"popularity":60,"original_language":"","certification":"","poster_url":"","tmdb_id":null,` +
		`"imdb_id":null,"version":1,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","score":0,"match":"browse"}],` +
		`"facets":{"genres":[{"value":"Crime","count":2},{"value":"Drama","count":2},{"value":"Comedy","count":1},{"value":"Romance","count":1}]},` +
		`"index":{"version":5,"lag":2,"current":false}}` // genre counts ignore the genre filter: a UI can tick another
	if got := strings.TrimSpace(w.Body.String()); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}

// TestSearchExtras pins highlights, match kinds, facets of every kind, did-you-mean and the cursor.
func TestSearchExtras(t *testing.T) {
	h := newHandler(t, func(context.Context) error { return nil })
	var res struct {
		Total uint64 `json:"total"`
		Hits  []struct {
			ID         int64             `json:"id"`
			Match      string            `json:"match"`
			Highlights map[string]string `json:"highlights"`
		} `json:"hits"`
		Facets     map[string]json.RawMessage `json:"facets"`
		DidYouMean string                     `json:"did_you_mean"`
		NextCursor string                     `json:"next_cursor"`
	}
	get := func(target string) {
		t.Helper()
		res.Hits, res.NextCursor, res.DidYouMean = nil, "", ""
		w := do(h, target)
		if w.Code != 200 {
			t.Fatalf("%s: status=%d: %s", target, w.Code, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
	}

	get("/v1/movies?q=godfater")
	if len(res.Hits) != 1 || res.Hits[0].Match != "typo" || res.Hits[0].Highlights["title"] != "The <mark>Godfather</mark>" {
		t.Errorf("typo hit: %+v", res.Hits)
	}
	if got, want := res.DidYouMean, "godfather"; got != want {
		t.Errorf("did_you_mean=%q, want %q", got, want)
	}
	get("/v1/movies?q=godf")
	if len(res.Hits) != 1 || res.Hits[0].Match != "prefix" {
		t.Errorf("prefix hit: %+v", res.Hits)
	}
	get("/v1/movies?q=amelie")
	if len(res.Hits) != 1 || res.Hits[0].Match != "exact" || res.Hits[0].Highlights["title"] != "<mark>Amélie</mark>" {
		t.Errorf("accent hit: %+v", res.Hits)
	}

	get("/v1/movies?facets=decade,rating,year,directors,runtime&genre=Crime")
	for name, want := range map[string]string{
		"genres":    `[{"value":"Crime","count":2},{"value":"Drama","count":2},{"value":"Comedy","count":1},{"value":"Romance","count":1}]`,
		"decade":    `[{"value":"1970s","count":1,"from":1970,"to":1979}]`,
		"rating":    `[{"value":"9-10","count":1,"from":9,"to":10}]`,
		"year":      `{"min":1972,"max":1972}`,
		"directors": `[{"value":"Francis Ford Coppola","count":1}]`,
		"runtime":   `[{"value":"150+","count":1,"from":150}]`,
	} {
		if got := string(res.Facets[name]); got != want {
			t.Errorf("facet %s=%s, want %s", name, got, want)
		}
	}

	// A cursor walks every movie, page after page, without repeats.
	var ids []int64
	target := "/v1/movies?per_page=1&sort=-rating,title"
	for range 5 {
		get(target)
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		if res.NextCursor == "" {
			break
		}
		target = "/v1/movies?per_page=1&sort=-rating,title&cursor=" + res.NextCursor
	}
	if got, want := ids, []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("cursor walk=%v, want %v", got, want)
	}
	if w := do(h, "/v1/movies?per_page=1&sort=title&cursor="+res.NextCursor); res.NextCursor != "" && w.Code != 400 {
		t.Errorf("cursor of another sort: status=%d", w.Code)
	}
}

func TestSuggest(t *testing.T) {
	h := newHandler(t, func(context.Context) error { return nil })
	tests := []struct {
		name   string
		target string
		status int
		want   string
	}{
		{name: "title", target: "/v1/suggest?q=god", status: 200, want: `{"suggestions":[{"text":"The Godfather","kind":"title","id":1,"year":1972}]}`},
		{name: "person", target: "/v1/suggest?q=copp", status: 200, want: `{"suggestions":[{"text":"Francis Ford Coppola","kind":"person","role":"director"}]}`},
		{name: "accents", target: "/v1/suggest?q=ame", status: 200, want: `{"suggestions":[{"text":"Amélie","kind":"title","id":2,"year":2001}]}`},
		{name: "nothing", target: "/v1/suggest?q=zzz", status: 200, want: `{"suggestions":[]}`},
		{name: "limit", target: "/v1/suggest?q=a&limit=1", status: 200},
		{name: "empty", target: "/v1/suggest?q=", status: 400},
		{name: "limit too big", target: "/v1/suggest?q=a&limit=21", status: 400},
		{name: "unknown parameter", target: "/v1/suggest?q=a&lang=en", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.target)
			if got, want := w.Code, tt.status; got != want {
				t.Fatalf("status=%d, want %d; body %s", got, want, w.Body)
			}
			if tt.status != 200 {
				MustProblem(t, w)
				return
			}
			if got := strings.TrimSpace(w.Body.String()); tt.want != "" && got != tt.want {
				t.Errorf("body=%s, want %s", got, tt.want)
			}
		})
	}
}

func TestMovieGet(t *testing.T) {
	h := newHandler(t, func(context.Context) error { return nil })
	tests := []struct {
		name   string
		target string
		header []string
		status int
		etag   string
	}{
		{name: "found", target: "/v1/movies/1", status: 200, etag: `"3"`},
		{name: "not modified", target: "/v1/movies/1", header: []string{"If-None-Match", `"3"`}, status: 304, etag: `"3"`},
		{name: "stale etag", target: "/v1/movies/1", header: []string{"If-None-Match", `"2"`}, status: 200, etag: `"3"`},
		{name: "missing", target: "/v1/movies/999", status: 404},
		{name: "deleted", target: "/v1/movies/4", status: 404},
		{name: "not a number", target: "/v1/movies/abc", status: 400},
		{name: "zero", target: "/v1/movies/0", status: 400},
		{name: "unknown route", target: "/v1/nothing", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.target, tt.header...)
			if got, want := w.Code, tt.status; got != want {
				t.Fatalf("status=%d, want %d; body %s", got, want, w.Body)
			}
			if got, want := w.Header().Get("ETag"), tt.etag; got != want {
				t.Errorf("ETag=%q, want %q", got, want)
			}
			switch {
			case tt.status >= 400:
				MustProblem(t, w)
			case tt.status == 200:
				var m map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
					t.Fatal(err)
				}
				if m["title"] != "The Godfather" || m["version"] != 3.0 || m["votes"] != 2e6 {
					t.Errorf("movie %v", m)
				}
			}
		})
	}
}

func TestProbes(t *testing.T) {
	var notReady error = apperr.Errorf(apperr.Unavailable, "The search index is catching up.")
	tests := []struct {
		name   string
		target string
		ready  error
		status int
		body   string
	}{
		{name: "healthz", target: "/healthz", status: 200, body: `{"status":"ok"}`},
		{name: "healthz when not ready", target: "/healthz", ready: notReady, status: 200, body: `{"status":"ok"}`},
		// Ready, and says whether the index holds everything the stream does (the handler's status: 2 behind).
		{name: "ready", target: "/readyz", status: 200, body: `{"status":"ready","current":false}`},
		{name: "not ready", target: "/readyz", ready: notReady, status: 503},
		{name: "readiness check failed", target: "/readyz", ready: errors.New("nats: timeout"), status: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, func(context.Context) error { return tt.ready })
			w := do(h, tt.target)
			if got, want := w.Code, tt.status; got != want {
				t.Fatalf("status=%d, want %d; body %s", got, want, w.Body)
			}
			if tt.body != "" {
				if got := strings.TrimSpace(w.Body.String()); got != tt.body {
					t.Errorf("body=%s, want %s", got, tt.body)
				}
			}
			if tt.status == 503 {
				if p := MustProblem(t, w); p.Code != apperr.Unavailable {
					t.Errorf("problem code=%q, want %q", p.Code, apperr.Unavailable)
				}
			}
		})
	}
}

// MustProblem decodes a problem+json answer.
func MustProblem(tb testing.TB, w *httptest.ResponseRecorder) httpx.Problem {
	tb.Helper()
	if got, want := w.Header().Get("Content-Type"), httpx.ProblemContentType; got != want {
		tb.Fatalf("Content-Type=%q, want %q; body %s", got, want, w.Body)
	}
	var p httpx.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		tb.Fatal(err)
	}
	if p.Status != w.Code {
		tb.Errorf("problem status=%d, HTTP status %d", p.Status, w.Code)
	}
	return p
}
