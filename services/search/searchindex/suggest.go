package searchindex

import (
	"context"
	"fmt"
	"strings"

	"github.com/blevesearch/bleve/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// suggestExactBoost is the boost of a title that is the whole text typed: far above any prefix match's
// score times the largest prior.
const suggestExactBoost = 1000

// suggestPool is how many of the best matching movies Suggest draws titles and names from.
const suggestPool = 40

// Suggest completes what a user is typing into movie titles and people's names; see search.Searcher. The
// words typed so far must match exactly, the last one as a prefix, all in the title or all in one name.
// Movies are ranked by text relevance and the popularity prior; a title comes where its movie ranks, a
// person where their best-ranked movie does.
func (x *Index) Suggest(ctx context.Context, q search.SuggestQuery) ([]search.Suggestion, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	words := x.analyze(q.Text)
	out := []search.Suggestion{}
	if len(words) == 0 {
		return out, nil
	}
	release, err := x.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	fields := []struct {
		name  string
		boost float64
	}{{fieldTitle, 3}, {fieldCast, 1}, {fieldDirectors, 1.5}}
	var perField []query.Query
	for _, f := range fields {
		var conj []query.Query
		for i, w := range words {
			var wq query.Query
			if i == len(words)-1 {
				pq := query.NewPrefixQuery(w)
				pq.SetField(f.name)
				wq = pq
			} else {
				tq := query.NewTermQuery(w)
				tq.SetField(f.name)
				wq = tq
			}
			conj = append(conj, wq)
		}
		cq := query.NewConjunctionQuery(conj)
		cq.SetBoost(f.boost)
		perField = append(perField, cq)
	}
	// A title that is the whole text typed comes first: "alien" is Alien before Alien³ and Aliens, however
	// popular they are.
	perField = append(perField, wordQuery(fieldTitleKey, typedTitleKey(strings.Join(words, " ")), suggestExactBoost))
	scored := query.NewCustomScoreQueryWithScorer(query.NewDisjunctionQuery(perField), x.suggestScorer(), nil, nil)
	req := bleve.NewSearchRequestOptions(scored, suggestPool, 0, false)
	req.Fields = []string{fieldSource}
	req.SortByCustom(blevesearch.SortOrder{&blevesearch.SortScore{Desc: true}, &blevesearch.SortDocID{}})
	sr, err := x.query(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("suggest %q: %w", q.Text, err)
	}
	seen := map[string]bool{}
	for _, h := range sr.Hits {
		src, _ := h.Fields[fieldSource].(string)
		m, err := decodeSource([]byte(src))
		if err != nil {
			return nil, err
		}
		if x.completes(m.Title, words) && !seen["t"+m.Title] {
			seen["t"+m.Title] = true
			out = append(out, search.Suggestion{Text: m.Title, Kind: search.SuggestTitle, ID: m.ID, Year: m.Year})
		}
		for _, name := range append(append([]string{}, m.Directors...), m.Cast...) {
			k := "p" + x.key(name)
			if !seen[k] && x.completes(name, words) {
				seen[k] = true
				role, err := x.role(ctx, name)
				if err != nil {
					return nil, err
				}
				out = append(out, search.Suggestion{Text: name, Kind: search.SuggestPerson, Role: role})
			}
		}
		if len(out) >= q.Limit {
			break
		}
	}
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// role is the filter that finds most of a person's movies: "director" or "cast", as the catalog credits them
// (a director who acts in a few of their films, an actor who directed one); director if alike.
func (x *Index) role(ctx context.Context, name string) (string, error) {
	key := x.key(name)
	directed, err := x.count(ctx, keyQuery(fieldDirector, key, 1))
	if err != nil {
		return "", err
	}
	acted, err := x.count(ctx, keyQuery(fieldCastName, key, 1))
	if err != nil {
		return "", err
	}
	if acted > directed {
		return "cast", nil
	}
	return "director", nil
}

// suggestScorer favours well-known movies strongly: a suggestion list is short.
func (x *Index) suggestScorer() func(context.Context, *blevesearch.DocumentMatch) (float64, error) {
	r := x.rank
	r.VotesWeight *= 4
	return x.scorer(r)
}

// completes reports whether text has every typed word, the last as a prefix of one of its words.
func (x *Index) completes(text string, typed []string) bool {
	have := x.analyze(text)
	for i, w := range typed {
		ok := false
		for _, h := range have {
			if h == w || (i == len(typed)-1 && strings.HasPrefix(h, w)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
