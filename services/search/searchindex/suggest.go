package searchindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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

// maxSuggestWords is the most words a suggestion's text has: it is at most 100 characters.
const maxSuggestWords = 100

// Suggest completes what a user is typing into movie titles and people's names; see search.Searcher. The
// words typed so far must match exactly, the last one as a prefix (its maxCompletions most common
// completions, as a search's), all in the title or all in one name. Movies are ranked by text relevance and
// the popularity prior; a title comes where its movie ranks, a person where their best-ranked movie does.
// A shard draws them from the best movies of the whole catalog: its own and its peers', each weighed over
// the catalog's words (AskSuggestPool), so that its suggestions are the ones one index of every movie
// gives.
func (x *Index) Suggest(ctx context.Context, q search.SuggestQuery) ([]search.Suggestion, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	words := x.analyze(q.Text)
	out := []search.Suggestion{}
	if len(words) == 0 {
		return out, nil
	}
	ctx, release, err := x.admitSearch(ctx) // a slot it leaves while it waits for its peers
	if err != nil {
		return nil, err
	}
	defer release()
	last := words[len(words)-1]
	if x.peerSet() != nil {
		ctx = withPeerMemo(ctx)
		if err := x.prefetch(ctx, PeerQuestion{Op: AskDocCount}, prefixCountsQuestion(x.prefixFields(), last)); err != nil {
			return nil, err
		}
	}
	exp := x.newExpansions(ctx)
	defer exp.close()
	completions := make(map[string][]string, len(suggestFields))
	for _, f := range suggestFields {
		ws, ok := exp.completions(f.name, last)
		if !ok {
			return nil, fmt.Errorf("suggest %q: the words of %s could not be read", q.Text, f.name)
		}
		completions[f.name] = ws
	}
	e := x.newExecutor(ctx)
	defer e.close()
	sq, err := e.overCatalog(x.suggestQuery(words, completions))
	if err != nil {
		return nil, fmt.Errorf("suggest %q: %w", q.Text, err)
	}
	pool, err := x.suggestPool(ctx, sq)
	if err != nil {
		return nil, err
	}
	if w, ok := sq.(weighedOver); ok && x.peerSet() != nil {
		mine := PeerAnswer{Pool: pool}
		a, _, err := x.ask(ctx, PeerQuestion{Op: AskSuggestPool, Words: words, Completions: completions, Stats: w.stats.wire()},
			func() PeerAnswer { return mine })
		switch {
		case errors.Is(err, ErrQuestionRefused):
			// A peer of the release before knows no such question (a rolling deploy): until it does, the shard
			// suggests from its own movies, as a suggestion merged by the gateway of that release did.
		case err != nil:
			return nil, fmt.Errorf("suggest %q: %w", q.Text, err)
		default:
			pool = bestOf(append(pool, a.Pool...), suggestPool)
		}
	}
	movies := make([]*search.Movie, len(pool))
	for i, pm := range pool {
		if movies[i], err = decodeSource([]byte(pm.Source)); err != nil {
			return nil, err
		}
	}
	// A person's role is the filter that finds most of their movies: the pool holds the best-known movies
	// whose credits match what is typed, so it counts their directing and acting there (a director who acts
	// in a few of their films, an actor who directed one popular film). Director if alike.
	directed, acted := map[string]int{}, map[string]int{}
	for _, m := range movies {
		for _, name := range m.Directors {
			directed[x.key(name)]++
		}
		for _, name := range m.Cast {
			acted[x.key(name)]++
		}
	}
	seen := map[string]bool{}
	for i, m := range movies {
		score := pool[i].Score
		if x.completes(m.Title, words) && !seen["t"+m.Title] {
			seen["t"+m.Title] = true
			out = append(out, search.Suggestion{Text: m.Title, Kind: search.SuggestTitle, ID: m.ID, Year: m.Year, Score: score})
		}
		for _, name := range append(append([]string{}, m.Directors...), m.Cast...) {
			key := x.key(name)
			if !seen["p"+key] && x.completes(name, words) {
				seen["p"+key] = true
				role := "director"
				if acted[key] > directed[key] {
					role = "cast"
				}
				out = append(out, search.Suggestion{Text: name, Kind: search.SuggestPerson, Role: role, Score: score})
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

// suggestFields are where a suggestion's words are looked for, with their boosts.
var suggestFields = []struct {
	name  string
	boost float64
}{{fieldTitle, 3}, {fieldCast, 1}, {fieldDirectors, 1.5}}

// suggestQuery matches the movies whose title or one of whose people's names has the typed words, the last
// one as any of its completions in that field; a title that is the whole text typed comes first.
func (x *Index) suggestQuery(words []string, completions map[string][]string) query.Query {
	last := len(words) - 1
	var perField []query.Query
	for _, f := range suggestFields {
		conj := make([]query.Query, 0, len(words))
		for _, w := range words[:last] {
			conj = append(conj, wordQuery(f.name, w, 1))
		}
		conj = append(conj, completionsQuery(f.name, words[last], completions[f.name], 1))
		cq := query.NewConjunctionQuery(conj)
		cq.SetBoost(f.boost)
		perField = append(perField, cq)
	}
	// A title that is the whole text typed comes first: "alien" is Alien before Alien³ and Aliens, however
	// popular they are.
	perField = append(perField, wordQuery(fieldTitleKey, typedTitleKey(strings.Join(words, " ")), suggestExactBoost))
	return query.NewDisjunctionQuery(perField)
}

// PoolMovie is one of the movies suggestions are drawn from: its score, id and stored movie.
type PoolMovie struct {
	Score  float64 `json:"score"`
	ID     string  `json:"id"`
	Source string  `json:"source"`
}

// suggestPool is the index's own best suggestPool movies for q, best first.
func (x *Index) suggestPool(ctx context.Context, q query.Query) ([]PoolMovie, error) {
	scored := query.NewCustomScoreQueryWithScorer(q, x.suggestScorer(), nil, nil)
	req := bleve.NewSearchRequestOptions(scored, suggestPool, 0, false)
	req.Fields = []string{fieldSource}
	req.SortByCustom(blevesearch.SortOrder{&blevesearch.SortScore{Desc: true}, &blevesearch.SortDocID{}})
	sr, err := x.query(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("suggest: %w", err)
	}
	pool := make([]PoolMovie, len(sr.Hits))
	for i, h := range sr.Hits {
		src, _ := h.Fields[fieldSource].(string)
		pool[i] = PoolMovie{Score: h.Score, ID: h.ID, Source: src}
	}
	return pool, nil
}

// bestOf is the n best movies of pool, in the order of a suggestion's search: by score, then by id.
func bestOf(pool []PoolMovie, n int) []PoolMovie {
	slices.SortFunc(pool, func(a, b PoolMovie) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return pool[:min(n, len(pool))]
}

// suggestScorer favours well-known movies strongly: a suggestion list is short.
func (x *Index) suggestScorer() func(context.Context, *blevesearch.DocumentMatch) (float64, error) {
	r := x.rank
	r.VotesWeight *= 4
	return x.scorer(r, false)
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
