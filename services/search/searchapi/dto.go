package searchapi

import (
	"net/url"
	"strconv"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/services/search"
)

// The answer shapes. A movie is written exactly as the event contract writes it (events.Movie), so a client
// sees one movie format everywhere. These shapes are a contract: add fields, never change or remove them.

type statusDTO struct {
	Status string `json:"status"`
}

type resultDTO struct {
	Total   uint64                     `json:"total"`
	Page    int                        `json:"page"`
	PerPage int                        `json:"per_page"`
	Hits    []hitDTO                   `json:"hits"`
	Facets  map[string][]facetValueDTO `json:"facets"`
}

type hitDTO struct {
	events.Movie
	Score float64 `json:"score"`
}

type facetValueDTO struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

func fromMovie(m *search.Movie) events.Movie { return events.Movie(*m) }

func fromResult(r *search.Result) resultDTO {
	out := resultDTO{Total: r.Total, Page: r.Page, PerPage: r.PerPage, Hits: make([]hitDTO, len(r.Hits)), Facets: map[string][]facetValueDTO{}}
	for i, h := range r.Hits {
		out.Hits[i] = hitDTO{Movie: fromMovie(&h.Movie), Score: h.Score}
	}
	for name, vals := range r.Facets {
		fv := make([]facetValueDTO, len(vals))
		for i, v := range vals {
			fv[i] = facetValueDTO(v)
		}
		out.Facets[name] = fv
	}
	return out
}

// toQuery reads a search from the URL parameters q, genre (repeatable), page and per_page. Present numbers
// must be positive integers; the bounds are checked by search.Query.Normalize.
func toQuery(v url.Values) (search.Query, error) {
	q := search.Query{Text: v.Get("q"), Genres: v["genre"]}
	problems := map[string]string{}
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
	if len(problems) > 0 {
		return q, apperr.InvalidFields("The search parameters are not valid.", problems)
	}
	if err := q.Normalize(); err != nil {
		return q, err
	}
	return q, nil
}
