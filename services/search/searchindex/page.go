package searchindex

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/blevesearch/bleve/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/pkg/shardwire"
	"marquee/services/search"
)

// pager fills a result with the total and the hits of the requested page from the tiers of a search, added
// one at a time in rank order: each tier is asked for the hits of the page that fall in it (by offset, or
// after the cursor's position). Adding a tier returns its size, so the search decides the next tier from
// the query that paged this one instead of counting the same movies again.
type pager struct {
	x      *Index
	ctx    context.Context
	q      *search.Query
	p      *plan
	filter query.Query
	cur    *cursor
	res    *search.Result
	order  blevesearch.SortOrder
	scored bool

	skip, need   int                        // hits still to skip and to fill
	start        int                        // the first tier with hits: the cursor's
	added        int                        // tiers added so far
	more         bool                       // whether a match follows the last hit
	last         *blevesearch.DocumentMatch // the last hit, where the next page's cursor starts
	lastTier     int                        // its tier
	exactTotal   uint64                     // the exact matches' number: the first tier's size, if it holds exact matches only
	exactUnknown bool                       // the first tier holds exact and typo matches: exactTotal is not counted
	topicFirst   bool                       // the first tier is a topic's, the second the other exact matches
	judge        *hitJudge                  // the hits' match kinds and highlights, made on the first scored hit
	layout       layout                     // the tiers of a text search, for the next page's cursor
	mean         float64                    // the mean rating of the hits' weighted ratings (NaN: none)
	positions    []position                 // of a merge: every hit's, for its key and cursor
}

// position is where a hit of a merge's page stands in its search: its tier and sort values.
type position struct {
	tier int
	h    *blevesearch.DocumentMatch
}

func (x *Index) newPager(ctx context.Context, q *search.Query, p *plan, scored bool, filter query.Query, cur *cursor, res *search.Result) (*pager, error) {
	mean, err := x.catalogMeanRating(ctx)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Mean != nil {
		mean = *cur.Mean // the first page's, so that the next continues its order
	}
	pg := &pager{
		x: x, ctx: ctx, q: q, p: p, filter: filter, cur: cur, res: res,
		order: x.sortOrder(q.Sort, scored, mean), scored: scored,
		skip: (q.Page - 1) * q.PerPage, need: q.PerPage, lastTier: -1, mean: mean,
	}
	if cur != nil {
		pg.skip, pg.start = 0, cur.Tier
	}
	return pg, nil
}

// catalogMeanRating is the mean rating of the whole catalog (x's and its peers' movies), which weighted
// ratings pull towards; NaN while no movie has one.
func (x *Index) catalogMeanRating(ctx context.Context) (float64, error) {
	sum, n := x.priors.ratings()
	a, _, err := x.ask(ctx, PeerQuestion{Op: AskRatings}, func() PeerAnswer { return PeerAnswer{Sum: sum, N: n} })
	if err != nil {
		return 0, err
	}
	if sum, n = sum+a.Sum, n+a.N; n == 0 {
		return math.NaN(), nil
	}
	return sum / float64(n), nil
}

// addTier pages the next tier of a text search and returns its size, which decides the next tier: a
// shard pages its own movies (which its total counts), and the size is the whole catalog's.
func (pg *pager) addTier(t tier) (uint64, error) {
	size := pg.sizeQuestion(t)
	if err := pg.x.alsoAsk(pg.ctx, size); err != nil { // with the words' frequencies, which scoring the tier asks
		return 0, err
	}
	n, err := pg.add(t)
	if err != nil || pg.x.peerSet() == nil {
		return n, err
	}
	a, _, err := pg.x.ask(pg.ctx, size, func() PeerAnswer { return PeerAnswer{N: n} })
	return n + a.N, err
}

// expectTier has a shard ask its peers for the size of a tier that will follow with its next question.
func (pg *pager) expectTier(t tier) {
	_ = pg.x.alsoAsk(pg.ctx, pg.sizeQuestion(t)) // an error is the tier's own question's, when it is asked
}

// sizeQuestion asks a shard's peers for the size of a tier.
func (pg *pager) sizeQuestion(t tier) PeerQuestion { return countQuestion(and(t.member, pg.filter)) }

// add pages the next tier of x's own movies and returns how many of them it holds.
func (pg *pager) add(t tier) (uint64, error) {
	x, q := pg.x, pg.q
	i := pg.added
	pg.added++
	member := and(t.member, pg.filter)
	if i < pg.start || (pg.need == 0 && pg.more) {
		// Before the cursor's tier, or after a full page: only the tier's size counts.
		n, err := x.countHere(pg.ctx, pg.p.exec, member)
		if err != nil {
			return 0, err
		}
		pg.counted(i, t, n)
		return n, nil
	}
	qq := filtered(t.member, pg.filter)
	var rel query.Query // the scored tier's relevance
	if t.scored {
		rel = x.relevance(pg.p, t.anyWords, member)
		if len(q.Sort) > 0 {
			// Bleve orders the movies of one sort value by their scores, which a merge compares across shards.
			var err error
			if rel, err = pg.p.exec.overCatalog(rel); err != nil {
				return 0, fmt.Errorf("search %q: %w", q.Text, err)
			}
		}
		qq = x.scoring(rel, t.topic)
	}
	size := 0
	if pg.need > 0 {
		size = pg.need + 1 // one more tells whether the page is the tier's last
	}
	req := bleve.NewSearchRequestOptions(qq, size, pg.skip, false)
	req.SortByCustom(pg.order)
	req.Fields = []string{fieldSource}
	if !pg.scored {
		req.Score = "none"
	}
	after := pg.cur != nil && i == pg.start
	if after {
		if len(pg.cur.After) != len(pg.order) {
			return 0, invalidCursor()
		}
		vals := make([]string, len(pg.cur.After))
		for j, a := range pg.cur.After {
			vals[j] = string(a)
		}
		req.SetSearchAfter(vals)
	}
	var sr *bleve.SearchResult
	var err error
	done := false
	switch {
	case t.match == search.MatchBrowse && !after && size > 0 && byPopularity(q.Sort):
		if sr, done, err = x.browseTop(pg.ctx, member, req); err != nil {
			return 0, err
		}
	case t.scored && len(q.Sort) == 0:
		// Ranked by relevance alone, which the executor scores as Bleve would (but for the last bits of a
		// sum: so it pages after a cursor too, which holds the score it computed).
		var from *ranked
		if after {
			if from, err = scoreCursor(pg.cur); err != nil {
				return 0, err
			}
		}
		total, hits, err := pg.p.exec.top(rel, t.topic, from, pg.skip, size)
		if err != nil && (!errors.Is(err, errUnsupported) || x.peerSet() != nil) {
			// Bleve would score a shard's tier by the shard's own words' frequencies.
			return 0, fmt.Errorf("search %q: %w", q.Text, err)
		}
		if err == nil {
			sr, done = &bleve.SearchResult{Total: total, Hits: hits}, true
		}
	}
	if !done {
		sr, err = x.query(pg.ctx, req)
	}
	if err != nil {
		if after {
			return 0, invalidCursor()
		}
		return 0, fmt.Errorf("search %q: %w", q.Text, err)
	}
	pg.counted(i, t, sr.Total)
	if !after {
		pg.skip = max(0, pg.skip-int(sr.Total))
	}
	hits := sr.Hits
	if len(hits) > pg.need {
		hits, pg.more = hits[:pg.need], true
	}
	if pg.need == 0 && sr.Total > 0 && pg.lastTier >= 0 {
		pg.more = true
	}
	if pg.judge == nil && pg.scored && len(hits) > 0 {
		pg.judge = x.newHitJudge(pg.p)
	}
	for _, h := range hits {
		hit, err := x.hit(h, pg.judge, t.match, pg.scored, pg.mean)
		if err != nil {
			return 0, err
		}
		hit.Tier = i
		pg.res.Hits = append(pg.res.Hits, hit)
		if q.Merge {
			pg.positions = append(pg.positions, position{i, h})
		}
		pg.last, pg.lastTier = h, i
	}
	pg.need -= len(hits)
	return sr.Total, nil
}

func (pg *pager) counted(i int, t tier, n uint64) {
	pg.res.Total += n
	switch {
	case i == 0:
		pg.exactTotal, pg.exactUnknown, pg.topicFirst = 0, t.mixed, t.topic
		if t.match == search.MatchExact && !t.mixed {
			pg.exactTotal = n
		}
	case i == 1 && pg.topicFirst:
		pg.exactTotal += n // the exact matches of the words beside the topic's
	}
}

// finish completes the result once every tier is added: the cursor to the next page, if one follows, and a
// merge's hits' positions (once the layout of the tiers, which a cursor holds, is known).
func (pg *pager) finish() error {
	if pg.start >= pg.added {
		return invalidCursor() // the cursor names a tier this search does not have
	}
	if pg.res.Hits == nil {
		pg.res.Hits = []search.Hit{}
	}
	if pg.last != nil && pg.more {
		c, err := encodeCursor(pg.lastTier, pg.layout, pg.order, pg.last, pg.q.Sort)
		if err != nil {
			return err
		}
		pg.res.NextCursor = c
	}
	for k, at := range pg.positions {
		c, err := encodeCursor(at.tier, pg.layout, pg.order, at.h, pg.q.Sort)
		if err != nil {
			return err
		}
		pg.res.Hits[k].Merge = &shardwire.Hit{Key: mergeKey(at.tier, pg.order, at.h), Cursor: c}
	}
	return nil
}
