// Package search is the domain of Marquee's search service: the movie as the read model holds it, a search
// query, and its result. The subpackages hold the technology: searchindex (Bleve on disk), indexer (the
// JetStream consumer that keeps the index current), searchapi (HTTP), searchsvc (wiring) and searcheval
// (relevance evaluation against human judgments).
package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/shardwire"
)

// Limits of a Query.
const (
	DefaultPerPage  = 20    // hits per page when the query does not say
	MaxPerPage      = 100   // the largest page a client may ask for
	MaxTextLen      = 500   // the longest query text, in characters
	MaxTerms        = 32    // the most words (plain, quoted or excluded) in a query text
	MaxWindow       = 10000 // page × per_page may not reach past this many hits; a cursor pages without limit
	MaxSortKeys     = 4     // the most keys of a sort
	MaxFilterValues = 20    // the most values of one repeatable filter
	MaxCursorLen    = 2048  // the longest cursor a client may send back
)

// Movie is a movie as the read model returns it: the full state carried by the last applied event. It is the
// event contract's movie itself, so a hit's JSON is exactly a movie's JSON plus the search extras.
type Movie = events.Movie

// GenreMode says how several genres of a query combine.
type GenreMode string

// The genre modes.
const (
	GenreAny GenreMode = "any" // a movie matches if it has any of the genres (the default)
	GenreAll GenreMode = "all" // a movie matches if it has all of them
)

// Range is an inclusive numeric range; a nil bound is open.
type Range struct {
	Min, Max *float64
}

// IsZero reports whether the range does not restrict anything.
func (r Range) IsZero() bool { return r.Min == nil && r.Max == nil }

// The fields a query may sort on.
const (
	SortRelevance  = "relevance"
	SortRating     = "rating"
	SortPopularity = "popularity"
	SortVotes      = "votes"
	SortYear       = "year"
	SortTitle      = "title"
	SortRuntime    = "runtime"
)

// SortFields are the fields a sort may name.
var SortFields = []string{SortRelevance, SortRating, SortPopularity, SortVotes, SortYear, SortTitle, SortRuntime}

// SortKey is one key of a sort: a field, ascending unless Desc. Movies without a value sort last either way.
type SortKey struct {
	Field string
	Desc  bool
}

// The facets a query may ask for.
const (
	FacetGenres     = "genres"     // value counts; always returned
	FacetDirectors  = "directors"  // value counts
	FacetCast       = "cast"       // value counts
	FacetLanguage   = "language"   // value counts of original_language
	FacetDecade     = "decade"     // year histogram by decade
	FacetRating     = "rating"     // rating histogram by whole points
	FacetRuntime    = "runtime"    // runtime bands
	FacetYear       = "year"       // min and max year
	FacetPopularity = "popularity" // min and max popularity
	FacetVotes      = "votes"      // min and max vote count
)

// FacetNames are the facets a query may ask for: a code filter's facet (CodeFilters) among them.
var FacetNames = func() []string {
	out := []string{FacetGenres, FacetDirectors, FacetCast}
	for _, c := range CodeFilters {
		out = append(out, c.Name)
	}
	return append(out, FacetDecade, FacetRating, FacetRuntime, FacetYear, FacetPopularity, FacetVotes)
}()

// CodeFilter is a filter, and a facet, on a field of a movie that holds one code (its original language,
// ISO 639-1): a search names any of its values, and the facet counts them. The query parameter, the facet
// and the index's field are all called Name; a value is indexed, matched and shown as Fold writes it.
type CodeFilter struct {
	Name  string
	Value func(*Movie) string
	Fold  func(string) string
}

// CodeFilters are the code filters. A filter on a new code field of the movie is a line here (and a
// mapping version of the index).
var CodeFilters = []CodeFilter{
	{Name: FacetLanguage, Value: func(m *Movie) string { return m.OriginalLanguage }, Fold: strings.ToLower},
	{Name: "certification", Value: func(m *Movie) string { return m.Certification }, Fold: strings.ToUpper},
}

// Query is one search request. An empty Text browses every movie, most popular first.
type Query struct {
	Text       string              // free text; see ParseText for its syntax
	Genres     []string            // exact genre values
	GenreMode  GenreMode           // how Genres combine; "" means GenreAny
	Directors  []string            // director names (any letter case or accents); a movie matches if it has any of them
	Cast       []string            // cast member names (any letter case or accents); a movie matches if it has all of them
	Codes      map[string][]string // the code filters' values (CodeFilters), by name; any of a filter's values
	Year       Range
	Rating     Range
	Popularity Range
	Runtime    Range     // minutes
	Sort       []SortKey // empty: by relevance with text, by popularity without
	Facets     []string  // facets to compute besides genres
	Page       int       // 1-based; 0 means 1
	PerPage    int       // 0 means DefaultPerPage
	Cursor     string    // opaque: the next_cursor of the previous page; excludes Page > 1
	// Merge asks for an answer to merge with other shards' (see shardwire): a page of up to MaxWindow hits,
	// each with its MergeKey and Cursor, and value facets counted deeper, unscaled (Facet.More, Scale).
	Merge bool `json:"merge,omitempty"`
	// FacetCounts, of a Merge query, asks for the counts of these values of value facets (by facet name)
	// besides the facets' own values: the gateway's question for values a shard's facet left out.
	FacetCounts map[string][]string `json:"facet_counts,omitempty"`

	// MinIndexVersion asks for an answer of the index at this stream sequence or later: a read that must see
	// a write (min_version) is never answered from a cached answer older than the write. It does not change
	// the answer, so it is no part of the query's identity.
	MinIndexVersion uint64 `json:"-"`

	parsed *parsedText // Text taken apart, kept by Normalize for the index (see ParsedText)
}

// parsedText is a query text and its parse. It is never changed once made, so copies of a Query share it.
type parsedText struct {
	of   string
	text Text
}

// ParsedText returns q.Text taken apart (ParseText). Normalize parses the text to check it, and the index
// takes that parse rather than make it again; a Text changed since is parsed anew. Copies of q share the
// parse: read it, never change it.
func (q *Query) ParsedText() (Text, error) {
	if q.parsed != nil && q.parsed.of == q.Text {
		return q.parsed.text, nil
	}
	t, err := ParseText(q.Text)
	if err != nil {
		return Text{}, err
	}
	q.parsed = &parsedText{of: q.Text, text: t}
	return t, nil
}

// Match says how a hit matched the query text.
type Match string

// The kinds of match, from best to worst.
const (
	MatchPhrase  Match = "phrase"  // the quoted phrases of the query, every other word exactly
	MatchExact   Match = "exact"   // every word exactly
	MatchPrefix  Match = "prefix"  // every word exactly but the last, which the movie has as a prefix
	MatchTypo    Match = "typo"    // some word only within its typo tolerance
	MatchPartial Match = "partial" // not every word: the query was relaxed because too few movies had all of them
	MatchBrowse  Match = "browse"  // no text: every movie that passes the filters
)

// Hit is one movie of a result with its relevance score (0 when browsing), how it matched and the matching
// words of its title and overview marked.
type Hit struct {
	Movie
	// WeightedRating is the rating that sort=rating orders by: the rating pulled towards the catalog's mean
	// by the few votes it has (a Bayesian average); nil without a rating.
	WeightedRating *float64
	Score          float64
	Match          Match
	Highlights     map[string]string // field → HTML-escaped text with <mark>…</mark> around matched words
	// Tier is the hit's tier of a text search in rank order (0: the first): the hits of shards that answer
	// for one catalog rank by tier, then score, then id.
	Tier int
	// Merge is, of a Merge query only, the hit's position: its key and the (unsigned) cursor after it.
	Merge *shardwire.Hit
}

// FacetValue is one value (or bucket) of a facet and the number of matching movies in it. From and To bound
// a numeric bucket (inclusive); they are nil for a value facet and for an open end.
type FacetValue struct {
	Value    string
	Count    int
	From, To *float64
	// Term is the indexed term of a labelled value (its key first), by which values of equal count are cut
	// from a facet; "" where it is the value.
	Term string
}

// FacetStats are the smallest and largest values among the matching movies; nil when none has a value.
type FacetStats struct {
	Min, Max *float64
}

// Facet is one facet of a result: either values (counts, buckets) or stats.
type Facet struct {
	Values []FacetValue // sorted by count, then value; buckets in numeric order
	Stats  *FacetStats  // for min/max facets

	// Merge says, of a Merge query's value facet, how it was counted: Values may run deeper than a client's
	// answer, and are left unscaled.
	Merge *shardwire.Facet
}

// IndexStatus tells how current the index that answered is.
type IndexStatus struct {
	Version uint64 // the stream sequence the index had applied up to when the answer was computed
	Lag     uint64 // stream sequences the index is behind (an upper bound on events)
	Current bool   // whether the index had applied everything the stream held when asked
	// Age is, for a cached answer of a Version the index has since moved past (served within the cache's
	// staleness bound), how long ago it was last known to be the index's answer; 0 for an answer of the
	// index as it is.
	Age time.Duration
}

// Result is one page of the movies matching a query. Total is exact. Facets always holds "genres", counted
// over every match, not only the page; a facet whose own filter is set counts as if that filter were not
// (multi-select).
type Result struct {
	Total   uint64
	Page    int
	PerPage int
	Hits    []Hit
	Facets  map[string]Facet
	// FacetsApproximate says that a facet was counted on a sample of the matches (there were many), its
	// counts scaled up: estimates, not exact counts. A text search's facets of few values are exact.
	FacetsApproximate bool
	DidYouMean        string // a corrected query text with more matches, when the query had few; "" if none
	NextCursor        string // the cursor of the next page; "" on the last page
	Index             IndexStatus
}

// SuggestQuery asks for autocompletions of what a user is typing.
type SuggestQuery struct {
	Text  string
	Limit int // 0 means DefaultSuggestLimit
}

// Limits of a SuggestQuery.
const (
	DefaultSuggestLimit = 8
	MaxSuggestLimit     = 20
)

// The kinds of suggestion.
const (
	SuggestTitle  = "title"
	SuggestPerson = "person"
)

// Suggestion is one autocompletion: a movie title (with the movie's id) or a person's name.
type Suggestion struct {
	Text string
	Kind string
	ID   int64 // the movie, for a title; 0 for a person
	Year *int  // the movie's year, for a title: it tells remakes apart
	// Role is "director" or "cast" for a person: the filter that finds most of their movies, as the
	// best-known movies that match the typed name credit them.
	Role string
	// Score ranks the suggestion: its movie's, or a person's best-ranked movie's.
	Score float64
}

// Searcher answers searches and single-movie reads from the read model.
type Searcher interface {
	// Search returns a page of the movies matching q. It returns an apperr.Invalid error if q is out of
	// bounds (see Query.Normalize).
	Search(ctx context.Context, q Query) (*Result, error)
	// Suggest returns autocompletions of titles and people for q. It returns an apperr.Invalid error if q
	// is out of bounds.
	Suggest(ctx context.Context, q SuggestQuery) ([]Suggestion, error)
	// Movie returns the movie with the given id. It returns an apperr.NotFound error if the movie was never
	// indexed or has been deleted.
	Movie(ctx context.Context, id int64) (*Movie, error)
}

// maxPerPage is the largest page q may ask for: a merge's page is the window its shards fill.
func (q *Query) maxPerPage() int {
	if q.Merge {
		return MaxWindow
	}
	return MaxPerPage
}

// Normalize fills the defaults of q (page 1, DefaultPerPage, GenreAny), trims its text and drops empty
// filter values. It returns an apperr.Invalid error naming every field that is out of bounds. It is
// idempotent.
func (q *Query) Normalize() error {
	problems := map[string]string{}
	if q.Page == 0 {
		q.Page = 1
	}
	if q.PerPage == 0 {
		q.PerPage = DefaultPerPage
	}
	if q.GenreMode == "" {
		q.GenreMode = GenreAny
	}
	q.Text = strings.TrimSpace(q.Text)
	if !utf8.ValidString(q.Text) {
		problems["q"] = "must be valid UTF-8"
	} else if n := utf8.RuneCountInString(q.Text); n > MaxTextLen {
		problems["q"] = fmt.Sprintf("must be at most %d characters, not %d", MaxTextLen, n)
	} else if _, err := q.ParsedText(); err != nil {
		problems["q"] = apperr.FieldsOf(err)["q"]
	}
	if q.Page < 1 {
		problems["page"] = "must be at least 1"
	}
	if most := q.maxPerPage(); q.PerPage < 1 || q.PerPage > most {
		problems["per_page"] = fmt.Sprintf("must be between 1 and %d", most)
	}
	if q.Cursor != "" && q.Page > 1 {
		problems["cursor"] = "cannot be combined with page"
	}
	if len(q.Cursor) > MaxCursorLen {
		problems["cursor"] = "is not a cursor this service gave out"
	}
	if _, ok := problems["per_page"]; !ok && q.Page > MaxWindow/q.PerPage { // division, so a huge page cannot overflow
		problems["page"] = fmt.Sprintf("page × per_page must be at most %d; use the cursor to page deeper", MaxWindow)
	}
	if q.GenreMode != GenreAny && q.GenreMode != GenreAll {
		problems["genre_mode"] = "must be any or all"
	}
	lists := map[string]*[]string{"genre": &q.Genres, "director": &q.Directors, "cast": &q.Cast}
	codes := map[string]*[]string{}
	for _, c := range CodeFilters {
		if vals, ok := q.Codes[c.Name]; ok {
			codes[c.Name], lists[c.Name] = &vals, &vals
		}
	}
	for name, vals := range lists {
		*vals = cleanValues(*vals)
		if len(*vals) > MaxFilterValues {
			problems[name] = fmt.Sprintf("at most %d values", MaxFilterValues)
		}
		for _, v := range *vals {
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 200 {
				problems[name] = "values must be valid UTF-8 of at most 200 characters"
			}
		}
	}
	q.Codes = nil // a code filter without values is no filter, and no part of the query's identity
	for name, vals := range codes {
		if len(*vals) > 0 {
			if q.Codes == nil {
				q.Codes = map[string][]string{}
			}
			q.Codes[name] = *vals
		}
	}
	for name, r := range map[string]Range{"year": q.Year, "rating": q.Rating, "popularity": q.Popularity, "runtime": q.Runtime} {
		for _, b := range []*float64{r.Min, r.Max} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				problems[name+"_min"] = "must be a finite number"
			}
		}
		if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
			problems[name+"_min"] = fmt.Sprintf("must not be above %s_max", name)
		}
	}
	if len(q.Sort) > MaxSortKeys {
		problems["sort"] = fmt.Sprintf("at most %d keys", MaxSortKeys)
	}
	seen := map[string]bool{}
	for _, k := range q.Sort {
		switch {
		case !slices.Contains(SortFields, k.Field):
			problems["sort"] = fmt.Sprintf("unknown key %q; use %s", k.Field, strings.Join(SortFields, ", "))
		case seen[k.Field]:
			problems["sort"] = fmt.Sprintf("key %q given twice", k.Field)
		}
		seen[k.Field] = true
	}
	facets := q.Facets[:0:0]
	for _, f := range q.Facets {
		switch {
		case !slices.Contains(FacetNames, f):
			problems["facets"] = fmt.Sprintf("unknown facet %q; use %s", f, strings.Join(FacetNames, ", "))
		case !slices.Contains(facets, f):
			facets = append(facets, f)
		}
	}
	q.Facets = facets
	if len(problems) > 0 {
		return apperr.InvalidFields("The search parameters are not valid.", problems)
	}
	return nil
}

// Wants reports whether the query asks for the facet (genres always).
func (q *Query) Wants(facet string) bool {
	return facet == FacetGenres || slices.Contains(q.Facets, facet)
}

func cleanValues(vals []string) []string {
	out := vals[:0:0]
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Normalize fills the default limit and checks the bounds of q.
func (q *SuggestQuery) Normalize() error {
	problems := map[string]string{}
	q.Text = strings.TrimSpace(q.Text)
	if q.Limit == 0 {
		q.Limit = DefaultSuggestLimit
	}
	switch {
	case !utf8.ValidString(q.Text):
		problems["q"] = "must be valid UTF-8"
	case q.Text == "":
		problems["q"] = "is required"
	case utf8.RuneCountInString(q.Text) > 100:
		problems["q"] = "must be at most 100 characters"
	}
	if q.Limit < 1 || q.Limit > MaxSuggestLimit {
		problems["limit"] = fmt.Sprintf("must be between 1 and %d", MaxSuggestLimit)
	}
	if len(problems) > 0 {
		return apperr.InvalidFields("The suggest parameters are not valid.", problems)
	}
	return nil
}
