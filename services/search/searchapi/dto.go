package searchapi

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/shardwire"
	"marquee/services/search"
)

// The answer shapes. A movie is written exactly as the event contract writes it (events.Movie), so a client
// sees one movie format everywhere. These shapes are a contract: add fields, never change or remove them.

type statusDTO struct {
	Status  string `json:"status"`
	Detail  string `json:"detail,omitempty"`  // why a ready replica is degraded
	Current *bool  `json:"current,omitempty"` // of /readyz: whether the index holds everything the stream does
}

type resultDTO struct {
	Total   uint64         `json:"total"`
	Page    int            `json:"page"`
	PerPage int            `json:"per_page"`
	Hits    []hitDTO       `json:"hits"`
	Facets  map[string]any `json:"facets"` // []facetValueDTO, or facetStatsDTO for min/max facets
	// FacetsApproximate: a facet was counted on a sample of many matches; its counts are estimates.
	FacetsApproximate bool     `json:"facets_approximate,omitempty"`
	DidYouMean        string   `json:"did_you_mean,omitempty"`
	NextCursor        string   `json:"next_cursor,omitempty"`
	Index             indexDTO `json:"index"`
	// Merge is, for the gateway that merges shards' answers only, the hits' positions and how the facets
	// were counted.
	Merge *shardwire.Result `json:"merge,omitempty"`
}

type hitDTO struct {
	events.Movie
	WeightedRating *float64          `json:"weighted_rating,omitempty"`
	Score          float64           `json:"score"`
	Highlights     map[string]string `json:"highlights,omitempty"`
	Match          search.Match      `json:"match"`
}

type facetValueDTO struct {
	Value string   `json:"value"`
	Count int      `json:"count"`
	From  *float64 `json:"from,omitempty"`
	To    *float64 `json:"to,omitempty"`
}

type facetStatsDTO struct {
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
}

type indexDTO struct {
	Version uint64 `json:"version"`
	Lag     uint64 `json:"lag"`
	Current bool   `json:"current"`
	Age     int64  `json:"age,omitempty"` // seconds, rounded up, of a cached answer the index has moved past (the Age header)
}

type suggestionsDTO struct {
	Suggestions []suggestionDTO `json:"suggestions"`
}

type suggestionDTO struct {
	Text string `json:"text"`
	Kind string `json:"kind"`
	ID   int64  `json:"id,omitempty"`
	Year *int   `json:"year,omitempty"`
	Role string `json:"role,omitempty"`
}

func fromMovie(m *search.Movie) events.Movie { return *m }

// fromResult is the answer of r; a merge's (q.Merge) carries each hit's position, its cursor signed by sign.
func fromResult(r *search.Result, merge bool, sign func(inner string) string) resultDTO {
	out := resultDTO{
		Total: r.Total, Page: r.Page, PerPage: r.PerPage, Hits: make([]hitDTO, len(r.Hits)), Facets: map[string]any{},
		DidYouMean: r.DidYouMean, NextCursor: r.NextCursor, FacetsApproximate: r.FacetsApproximate,
		Index: indexDTO{Version: r.Index.Version, Lag: r.Index.Lag, Current: r.Index.Current, Age: ageSeconds(r.Index.Age)},
	}
	if merge {
		out.Merge = &shardwire.Result{Hits: make([]shardwire.Hit, len(r.Hits)), Facets: map[string]shardwire.Facet{}}
	}
	for i, h := range r.Hits {
		out.Hits[i] = hitDTO{Movie: fromMovie(&h.Movie), WeightedRating: h.WeightedRating, Score: h.Score, Highlights: h.Highlights, Match: h.Match}
		if merge && h.Merge != nil {
			out.Merge.Hits[i] = shardwire.Hit{Key: h.Merge.Key, Cursor: sign(h.Merge.Cursor)}
		}
	}
	for name, f := range r.Facets {
		if merge && f.Merge != nil {
			out.Merge.Facets[name] = *f.Merge
		}
		if f.Stats != nil {
			out.Facets[name] = facetStatsDTO{Min: f.Stats.Min, Max: f.Stats.Max}
			continue
		}
		fv := make([]facetValueDTO, len(f.Values))
		for i, v := range f.Values {
			fv[i] = facetValueDTO{Value: v.Value, Count: v.Count, From: v.From, To: v.To}
		}
		out.Facets[name] = fv
	}
	return out
}

// fromSuggestions is the answer of ss.
func fromSuggestions(ss []search.Suggestion) suggestionsDTO {
	out := suggestionsDTO{Suggestions: make([]suggestionDTO, len(ss))}
	for i, s := range ss {
		out.Suggestions[i] = suggestionDTO{Text: s.Text, Kind: s.Kind, ID: s.ID, Year: s.Year, Role: s.Role}
	}
	return out
}

// searchParams are the parameters GET /v1/movies takes; repeatable ones may be given more than once. The
// code filters (search.CodeFilters) are repeatable parameters of their names.
var searchParams = func() map[string]bool {
	params := map[string]bool{
		"q": false, "genre": true, "genre_mode": false, "director": true, "cast": true,
		"year_min": false, "year_max": false, "rating_min": false, "rating_max": false,
		"popularity_min": false, "popularity_max": false, "runtime_min": false, "runtime_max": false,
		"sort": false, "facets": true, "page": false, "per_page": false, "cursor": false,
	}
	for _, c := range search.CodeFilters {
		params[c.Name] = true
	}
	return params
}()

// toQuery reads a search from the URL parameters (see searchParams). Every problem is reported at once, by
// parameter name, as an apperr.Invalid error. It checks what only the parameters show: an unknown or
// repeated name, a number's syntax, a parameter given empty or as 0 (which a Query reads as its default),
// page beside cursor. The bounds are search.Query.Normalize's, which it runs so that a bad search is
// answered before the handler waits for min_version or answers 304; the index keeps its parse of the text.
// A merge's (the gateway's, see shardwire) is the first page of every hit up to the asked page's end.
func toQuery(v url.Values, merge bool) (search.Query, error) {
	problems := map[string]string{}
	for name, vals := range v {
		repeatable, known := searchParams[name]
		switch {
		case !known:
			problems[name] = "is not a parameter of this search"
		case !repeatable && len(vals) > 1:
			problems[name] = "may be given once"
		}
	}
	q := search.Query{
		Text: v.Get("q"), Genres: v["genre"], GenreMode: search.GenreMode(v.Get("genre_mode")),
		Directors: v["director"], Cast: v["cast"], Cursor: v.Get("cursor"),
	}
	for _, c := range search.CodeFilters {
		if vals, ok := v[c.Name]; ok {
			if q.Codes == nil {
				q.Codes = map[string][]string{}
			}
			q.Codes[c.Name] = vals
		}
	}
	if _, ok := v["genre_mode"]; ok && q.GenreMode == "" {
		problems["genre_mode"] = "must be any or all"
	}
	for name, dst := range map[string]*int{"page": &q.Page, "per_page": &q.PerPage} {
		s, ok := v[name]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 {
			problems[name] = "must be a positive integer"
			continue
		}
		*dst = n
	}
	if _, ok := v["page"]; ok && q.Cursor != "" {
		problems["cursor"] = "cannot be combined with page"
	}
	if _, ok := v["cursor"]; ok && q.Cursor == "" {
		problems["cursor"] = "must not be empty"
	}
	for name, r := range map[string]struct {
		dst     *search.Range
		integer bool
	}{
		"year": {&q.Year, true}, "rating": {&q.Rating, false}, "popularity": {&q.Popularity, false}, "runtime": {&q.Runtime, true},
	} {
		for _, end := range []string{"_min", "_max"} {
			s, ok := v[name+end]
			if !ok {
				continue
			}
			n, err := parseNumber(s[0], r.integer)
			if err != nil {
				problems[name+end] = err.Error()
				continue
			}
			if end == "_min" {
				r.dst.Min = &n
			} else {
				r.dst.Max = &n
			}
		}
	}
	if s, ok := v["sort"]; ok {
		keys, err := parseSort(s[0])
		if err != nil {
			problems["sort"] = err.Error()
		}
		q.Sort = keys
	}
	for _, s := range v["facets"] {
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				q.Facets = append(q.Facets, f)
			}
		}
	}
	if len(problems) > 0 {
		return q, apperr.InvalidFields("The search parameters are not valid.", problems)
	}
	if err := q.Normalize(); err != nil {
		return q, err
	}
	if merge { // every hit up to the page's end: the gateway merges the shards' and keeps the page
		if q.Page*q.PerPage > shardwire.MaxWindow {
			return q, apperr.InvalidFields("The search parameters are not valid.", map[string]string{
				"page": fmt.Sprintf("page × per_page must be at most %d in a catalog split into shards; use the cursor to page deeper", shardwire.MaxWindow)})
		}
		q.Merge, q.Page, q.PerPage = true, 1, q.Page*q.PerPage
	}
	return q, nil
}

func parseNumber(s string, integer bool) (float64, error) {
	if integer {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < -1e6 || n > 1e6 {
			return 0, fmt.Errorf("must be an integer")
		}
		return float64(n), nil
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("must be a number")
	}
	return n, nil
}

// parseSort reads a sort such as "-rating,title": keys separated by commas, each ascending or, with a
// leading '-', descending.
func parseSort(s string) ([]search.SortKey, error) {
	var keys []search.SortKey
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		k := search.SortKey{Field: part}
		if rest, ok := strings.CutPrefix(part, "-"); ok {
			k = search.SortKey{Field: rest, Desc: true}
		} else if rest, ok := strings.CutPrefix(part, "+"); ok {
			k.Field = rest
		}
		if k.Field == "" {
			return nil, fmt.Errorf("must be keys separated by commas, such as -rating,title")
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// toSuggestQuery reads an autocompletion request from the URL parameters q and limit.
func toSuggestQuery(v url.Values) (search.SuggestQuery, error) {
	problems := map[string]string{}
	for name, vals := range v {
		switch {
		case name != "q" && name != "limit":
			problems[name] = "is not a parameter of suggest"
		case len(vals) > 1:
			problems[name] = "may be given once"
		}
	}
	q := search.SuggestQuery{Text: v.Get("q")}
	if s, ok := v["limit"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 {
			problems["limit"] = "must be a positive integer"
		}
		q.Limit = n
	}
	if len(problems) > 0 {
		return q, apperr.InvalidFields("The suggest parameters are not valid.", problems)
	}
	if err := q.Normalize(); err != nil {
		return q, err
	}
	return q, nil
}
