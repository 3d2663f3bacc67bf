// Package search is the domain of Marquee's search service: the movie as the read model holds it, a search
// query, and its result. The subpackages hold the technology: searchindex (Bleve on disk), indexer (the
// JetStream consumer that keeps the index current), searchapi (HTTP) and searchsvc (wiring).
package search

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"marquee/pkg/apperr"
)

// Limits of a Query.
const (
	DefaultPerPage = 20    // hits per page when the query does not say
	MaxPerPage     = 100   // the largest page a client may ask for
	MaxTextLen     = 500   // the longest query text, in characters
	MaxWindow      = 10000 // page × per_page may not reach past this many hits: deep paging costs O(from)
)

// Movie is a movie as the read model returns it: the full state carried by the last applied event. It has
// exactly the fields (and JSON) of events.Movie, so either converts to the other.
type Movie struct {
	ID             int64     `json:"id"`
	Title          string    `json:"title"`
	Year           *int      `json:"year"`
	Directors      []string  `json:"directors"`
	Cast           []string  `json:"cast"`
	Genres         []string  `json:"genres"`
	Overview       string    `json:"overview"`
	RuntimeMinutes *int      `json:"runtime_minutes"`
	Rating         *float64  `json:"rating"`
	Votes          *int64    `json:"votes"`
	Popularity     *float64  `json:"popularity"`
	Version        int64     `json:"version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Query is one search request. An empty Text browses every movie, most popular first.
type Query struct {
	Text    string   // free text: typo-tolerant, the last word also as a prefix
	Genres  []string // exact genre values; a movie matches if it has any of them
	Page    int      // 1-based; 0 means 1
	PerPage int      // 0 means DefaultPerPage
}

// Hit is one movie of a result with its relevance score (0 when browsing).
type Hit struct {
	Movie
	Score float64
}

// FacetValue is one value of a facet and the number of matching movies that have it.
type FacetValue struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Result is one page of the movies matching a query. Total is exact. Facets always holds "genres", sorted by
// count (descending) then value, counted over every match, not only the page.
type Result struct {
	Total   uint64
	Page    int
	PerPage int
	Hits    []Hit
	Facets  map[string][]FacetValue
}

// Searcher answers searches and single-movie reads from the read model.
type Searcher interface {
	// Search returns a page of the movies matching q. It returns an apperr.Invalid error if q is out of
	// bounds (see Query.Normalize).
	Search(ctx context.Context, q Query) (*Result, error)
	// Movie returns the movie with the given id. It returns an apperr.NotFound error if the movie was never
	// indexed or has been deleted.
	Movie(ctx context.Context, id int64) (*Movie, error)
}

// Normalize fills the defaults of q (page 1, DefaultPerPage), trims its text and drops empty genres. It
// returns an apperr.Invalid error naming every field that is out of bounds.
func (q *Query) Normalize() error {
	problems := map[string]string{}
	if q.Page == 0 {
		q.Page = 1
	}
	if q.PerPage == 0 {
		q.PerPage = DefaultPerPage
	}
	q.Text = strings.TrimSpace(q.Text)
	if !utf8.ValidString(q.Text) {
		problems["q"] = "must be valid UTF-8"
	} else if n := utf8.RuneCountInString(q.Text); n > MaxTextLen {
		problems["q"] = fmt.Sprintf("must be at most %d characters, not %d", MaxTextLen, n)
	}
	if q.Page < 1 {
		problems["page"] = "must be at least 1"
	}
	if q.PerPage < 1 || q.PerPage > MaxPerPage {
		problems["per_page"] = fmt.Sprintf("must be between 1 and %d", MaxPerPage)
	}
	if len(problems) == 0 && q.Page > MaxWindow/q.PerPage { // division, so a huge page cannot overflow
		problems["page"] = fmt.Sprintf("page × per_page must be at most %d; narrow the search instead", MaxWindow)
	}
	genres := q.Genres[:0:0]
	for _, g := range q.Genres {
		if g = strings.TrimSpace(g); g != "" {
			genres = append(genres, g)
		}
	}
	q.Genres = genres
	if len(problems) > 0 {
		return apperr.InvalidFields("The search parameters are not valid.", problems)
	}
	return nil
}
