package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"unicode"

	"marquee/pkg/ingest"
)

// queryMix is a fixed set of searches derived deterministically from a generated catalog: the same catalog
// and seed give the same queries. Each query is a path with its query string, for GET.
type queryMix struct {
	Title, Text, Typo, Prefix, Person, Filter, Facet, Browse []string
	// Words are the text queries' words, for the MariaDB side: the same searches in both engines.
	TextWords []string
	perClass  int
}

// classNames are the query classes in the order of classes, for tables.
var classNames = []string{"title", "free text", "typo", "prefix", "person", "text + filters", "text + facets", "browse + facets"}

// classes is the first perClass queries of each class, in the order of classNames.
func (q *queryMix) classes() [][]string {
	cut := func(urls []string) []string { return urls[:min(q.perClass, len(urls))] }
	return [][]string{cut(q.Title), cut(q.Text), cut(q.Typo), cut(q.Prefix), cut(q.Person), cut(q.Filter), cut(q.Facet), cut(q.Browse)}
}

// mixed interleaves every class: the standard query mix, and the class (an index into classNames) of each
// of its queries. The latency by class is read off the mix's runs, so the classes cost no run of their own.
func (q *queryMix) mixed() (urls []string, class []int) {
	cs := q.classes()
	for i := 0; ; i++ {
		added := false
		for c, cu := range cs {
			if i < len(cu) {
				urls, class = append(urls, cu[i]), append(class, c)
				added = true
			}
		}
		if !added {
			return urls, class
		}
	}
}

// words splits text into lower-case words of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// buildQueries draws perClass queries of each class from the first movies of the catalog at path (at most
// first, and 50,000).
func buildQueries(path string, first int, seed uint64, perClass int) (*queryMix, error) {
	var movies []ingest.Movie
	enough := errors.New("enough movies")
	read := 0
	if err := ingest.ReadFile(path, func(r ingest.Record) error {
		if read++; read > min(first, 50_000) {
			return enough
		}
		if r.Err == nil {
			movies = append(movies, r.Movie)
		}
		return nil
	}); err != nil && !errors.Is(err, enough) {
		return nil, err
	}
	if len(movies) == 0 {
		return nil, fmt.Errorf("%s: no movies", path)
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	pick := func() *ingest.Movie { return &movies[r.IntN(len(movies))] }
	// content words: 4+ letters, so "the" and "of" are not what a typical query is made of
	content := func(ws []string) []string {
		var out []string
		for _, w := range ws {
			if len([]rune(w)) >= 4 {
				out = append(out, w)
			}
		}
		return out
	}
	enc := url.QueryEscape
	// Text queries are many more than a class needs: the throughput runs send each about once, so a response
	// cache in front of search serves few of them.
	q := &queryMix{perClass: perClass}
	decade := func(m *ingest.Movie) string {
		y := 1990
		if m.Year != nil {
			y = *m.Year / 10 * 10
		}
		return fmt.Sprintf("&year_min=%d&year_max=%d", y, y+9)
	}
	for tries := 0; len(q.Text) < perClass*30 && tries < perClass*3000; tries++ {
		m := pick()
		ws := content(words(m.Overview))
		if len(ws) < 2 {
			continue
		}
		i := r.IntN(len(ws) - 1)
		text := ws[i] + " " + ws[i+1]
		q.TextWords = append(q.TextWords, text)
		q.Text = append(q.Text, "/v1/movies?per_page=10&q="+enc(text))
		q.Facet = append(q.Facet, "/v1/movies?per_page=10&facets=decade&facets=rating&q="+enc(text))
		filter := "/v1/movies?per_page=10&q=" + enc(text) + decade(m)
		if len(m.Genres) > 0 {
			filter += "&genre=" + enc(m.Genres[0])
		}
		q.Filter = append(q.Filter, filter)
	}
	for tries := 0; len(q.Title) < perClass && tries < perClass*200; tries++ {
		if m := pick(); len(strings.Fields(m.Title)) <= 5 {
			q.Title = append(q.Title, "/v1/movies?per_page=10&q="+enc(m.Title))
		}
	}
	for tries := 0; len(q.Typo) < perClass && tries < perClass*200; tries++ {
		for _, w := range words(pick().Title) {
			rs := []rune(w)
			if len(rs) < 5 {
				continue
			}
			i := 1 + r.IntN(len(rs)-1) // never the first letter
			c := rune('a' + r.IntN(26))
			if c == rs[i] {
				c = 'z' - (c - 'a')
			}
			rs[i] = c
			q.Typo = append(q.Typo, "/v1/movies?per_page=10&q="+enc(string(rs)))
			break
		}
	}
	for tries := 0; len(q.Prefix) < perClass && tries < perClass*200; tries++ {
		ws := words(pick().Title)
		if len(ws) >= 2 && len(ws[1]) >= 4 {
			q.Prefix = append(q.Prefix, "/v1/movies?per_page=10&q="+enc(ws[0]+" "+ws[1][:3]))
		}
	}
	for tries := 0; len(q.Person) < perClass && tries < perClass*200; tries++ {
		if m := pick(); len(m.Cast) > 0 {
			q.Person = append(q.Person, "/v1/movies?per_page=10&q="+enc(m.Cast[r.IntN(len(m.Cast))]))
		}
	}
	// Every browse query a page of its own: the result cache answers a page asked again at the same index
	// checkpoint, and pages 1-5 over and over measured the cache. 100 pages of 20 reach 2,000 movies deep.
	for i := range perClass {
		q.Browse = append(q.Browse, fmt.Sprintf("/v1/movies?per_page=20&facets=decade&facets=rating&page=%d", 1+i))
	}
	return q, nil
}
