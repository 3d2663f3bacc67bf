package searchindex

import (
	"context"
	"math"
	"strconv"

	"github.com/blevesearch/bleve/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// WithOptions returns a read-only view of x that searches with other options (the ranking is kept when
// o.Ranking is zero): benchmarks compare settings on one index. Never Apply to or Close the view.
func WithOptions(x *Index, o Options) *Index {
	if o.Ranking == (Ranking{}) {
		o.Ranking = x.rank
	}
	return &Index{shards: x.shards, bi: x.bi, mapping: x.mapping, rank: o.Ranking, opts: o, counts: x.counts, priors: x.priors, cache: nil,
		slots: newSlots(o.SearchConcurrency)}
}

// HoldSearchSlots takes n of x's search slots, as n running searches would, until release is called.
func HoldSearchSlots(x *Index, n int) (release func()) {
	if !x.slots.TryAcquire(int64(n)) {
		panic("HoldSearchSlots: the slots are taken")
	}
	return func() { x.slots.Release(int64(n)) }
}

// ScoresBothWays runs the ranked query of text (every word, typos allowed) over the whole index twice: as the
// search scores it (priorScored) and as Bleve's custom-score query scores it, with a callback handed each
// match's resolved external id. It returns each match's score by movie id, both ways.
func ScoresBothWays(x *Index, text string) (ours, bleves map[string]float64, err error) {
	t, err := search.ParseText(text)
	if err != nil {
		return nil, nil, err
	}
	p := x.newPlan(t)
	p.exp = x.newExpansions()
	defer p.exp.close()
	scored := x.scoring(&p, false, nil).(priorScored)
	callback := func(_ context.Context, d *blevesearch.DocumentMatch) (float64, error) {
		id, err := strconv.ParseInt(d.ID, 10, 64)
		if err != nil {
			return 0, err
		}
		row := x.priors.get(id)
		votes, rating := float64(row.votes), float64(row.rating)
		return d.Score * scored.rank.prior(votes, rating, !math.IsNaN(votes), !math.IsNaN(rating)), nil
	}
	run := func(q query.Query) (map[string]float64, error) {
		sr, err := x.query(context.Background(), bleve.NewSearchRequestOptions(q, 10_000, 0, false))
		if err != nil {
			return nil, err
		}
		scores := map[string]float64{}
		for _, h := range sr.Hits {
			scores[h.ID] = h.Score
		}
		return scores, nil
	}
	if ours, err = run(scored); err != nil {
		return nil, nil, err
	}
	bleves, err = run(query.NewCustomScoreQueryWithScorer(scored.q, callback, nil, nil))
	return ours, bleves, err
}
