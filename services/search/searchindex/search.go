package searchindex

import (
	"context"
	"slices"
	"strings"

	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// Search answers q; see search.Searcher. With a cache (Options.CacheBytes) an answer for the same
// normalized query is served from memory if the index has not changed since it was computed, or if it was
// the index's answer within Options.CacheMaxAge; never one of a checkpoint below q.MinIndexVersion.
func (x *Index) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	if err := q.Normalize(); err != nil {
		return nil, err
	}
	if x.cache == nil || x.peerSet() != nil {
		return x.search(ctx, q)
	}
	// The moment an answer is known to be the index's is taken before the checkpoint is read: a batch
	// applied after it is one the answer may lack, and the staleness bound counts from before it.
	now := x.cache.now()
	checkpoint, err := x.Checkpoint()
	if err != nil {
		return nil, err
	}
	key := cacheKey(&q)
	if key != "" {
		if res, ok := x.cache.get(key, checkpoint, q.MinIndexVersion, now); ok {
			return res, nil
		}
	}
	res, err := x.search(ctx, q)
	if err != nil {
		return nil, err
	}
	// Kept only if the search answered at the checkpoint read before it (its own read of the version agrees):
	// then the answer is that checkpoint's, and was the index's answer at now.
	if key != "" && res.Index.Version == checkpoint {
		x.cache.put(key, res, now) // keeps an encoded copy: the caller may change res
	}
	return res, nil
}

// search answers q, normalized by Search, uncached. With text, the matches come in tiers (see tiers),
// whatever their scores; within a tier the blended relevance decides. A sort replaces the tiers with its keys.
func (x *Index) search(ctx context.Context, q search.Query) (*search.Result, error) {
	q.Genres = x.opts.Genres.Canonical(q.Genres) // the catalog stores them so
	text, err := q.ParsedText()
	if err != nil {
		return nil, err
	}
	ctx, release, err := x.admitSearch(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if x.peerSet() != nil {
		ctx = withPeerMemo(ctx)
	}
	p := x.newPlan(text)
	p.exp, p.wordQueries = x.newExpansions(ctx), map[wordQueryKey]query.Query{}
	defer p.exp.close()
	p.exec = x.newExecutor(ctx)
	defer p.exec.close()
	if p.empty() && len(q.Sort) == 0 {
		q.Sort = defaultBrowseSort
	}
	cur, err := decodeCursor(q.Cursor, q.Sort)
	if err != nil {
		return nil, err
	}
	if err := x.prefetchFirst(ctx, &p, len(q.Sort) == 0); err != nil {
		return nil, err
	}
	fs := x.filters(&q)
	all := fs.without("")
	version, err := x.Checkpoint()
	if err != nil {
		return nil, err
	}
	res := &search.Result{Page: q.Page, PerPage: q.PerPage, Facets: map[string]search.Facet{}, Index: search.IndexStatus{Version: version, Current: true}}

	// The matches: every movie (browse), or the movies of the text, in tiers unless a sort replaces them.
	pg, err := x.newPager(ctx, &q, &p, !p.empty(), all, cur, res)
	if err != nil {
		return nil, err
	}
	var member query.Query = query.NewMatchAllQuery()
	var pinned layout
	if cur != nil {
		pinned = cur.Layout
	}
	switch {
	case p.empty():
		if _, err := pg.add(tier{member: member, match: search.MatchBrowse}); err != nil {
			return nil, err
		}
	case len(q.Sort) > 0:
		size := func(t tier) (uint64, error) { return x.countWith(ctx, p.exec, and(t.member, all)) }
		var relaxed bool
		if member, relaxed, pg.layout, err = x.tiers(ctx, &p, size, nil, pinned, false); err != nil {
			return nil, err
		}
		if _, err := pg.add(tier{scored: true, anyWords: relaxed, member: member}); err != nil {
			return nil, err
		}
	default:
		if member, _, pg.layout, err = x.tiers(ctx, &p, pg.addTier, pg.expectTier, pinned, true); err != nil {
			return nil, err
		}
	}
	if err := pg.finish(); err != nil {
		return nil, err
	}
	exactTotal := pg.exactTotal
	if err := x.facets(ctx, p.exec, &q, member, fs, res); err != nil {
		return nil, err
	}
	// A shard's tiers counted its own movies: did-you-mean weighs the whole catalog's.
	if len(p.terms) > 0 && len(q.Sort) == 0 && (pg.exactUnknown || x.peerSet() != nil) {
		if exactTotal, err = x.countWith(ctx, p.exec, and(x.membership(&p, allExact), all)); err != nil {
			return nil, err
		}
	}
	if len(p.terms) > 0 && len(q.Sort) == 0 && exactTotal < uint64(x.rank.DidYouMeanBelow) {
		dym, err := x.didYouMean(ctx, text, &p, all, exactTotal)
		if err != nil {
			return nil, err
		}
		res.DidYouMean = dym
	}
	return res, nil
}

// prefetchFirst asks a shard's peers at once what a search with words asks them first: the catalog's
// movies and mean rating, the fields of the words its expansions look up (split, known, titleWord), the
// completions of the word being typed, every word's typo variants, and, ranked by relevance (which scores
// them), the words of the names the query may be.
func (x *Index) prefetchFirst(ctx context.Context, p *plan, byRelevance bool) error {
	if x.peerSet() == nil || p.empty() {
		return nil
	}
	var words []string
	add := func(w string) {
		if w != "" && !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	for _, t := range p.terms {
		add(t.text)
	}
	for _, j := range p.joins {
		add(j.text)
	}
	for _, w := range strings.Fields(p.titleKey) {
		add(w)
	}
	qs := []PeerQuestion{{Op: AskRatings}, {Op: AskDocCount}}
	if len(words) > 0 {
		qs = append(qs, PeerQuestion{Op: AskWordFieldsOfEach, Words: words})
	}
	for _, t := range p.terms {
		if t.prefix {
			qs = append(qs, prefixCountsQuestion(x.prefixFields(), t.text)) // the exact matches' completions
		}
		if t.fuzz > 0 {
			qs = append(qs, fuzzyEveryFieldQuestion(t.text, t.fuzz)) // typos score in every tier
		}
	}
	if byRelevance {
		for _, q := range x.category(p) { // the names' words, which scoring a tier compiles
			eachPrefix(q, func(query.Query) bool { return true }, func(pq *query.PrefixQuery) {
				qs = append(qs, prefixWordsQuestion(pq.FieldVal, pq.Prefix))
			})
		}
	}
	if err := x.prefetch(ctx, qs...); err != nil {
		return err
	}
	return p.exp.prefetchWordFields(words)
}

// sortOrder is the Bleve sort of the query: its keys, then score, then id so every order is total. A sort by
// rating pulls towards mean (see weightedRatingSort).
func (x *Index) sortOrder(keys []search.SortKey, scored bool, mean float64) blevesearch.SortOrder {
	var so blevesearch.SortOrder
	hasScore := false
	for _, k := range keys {
		switch k.Field {
		case search.SortRelevance:
			so = append(so, &blevesearch.SortScore{Desc: !k.Desc}) // "relevance" is best first; "-relevance" reverses
			hasScore = true
		case search.SortRating:
			so = append(so, newWeightedRatingSort(x, k.Desc, mean))
		case search.SortTitle:
			so = append(so, &blevesearch.SortField{Field: fieldTitleSort, Desc: k.Desc, Type: blevesearch.SortFieldAsString, Missing: blevesearch.SortFieldMissingLast})
		default:
			field := map[string]string{search.SortPopularity: fieldPopularity, search.SortVotes: fieldVotes, search.SortYear: fieldYear, search.SortRuntime: fieldRuntime}[k.Field]
			so = append(so, &blevesearch.SortField{Field: field, Desc: k.Desc, Type: blevesearch.SortFieldAuto, Missing: blevesearch.SortFieldMissingLast})
		}
	}
	if scored && !hasScore {
		so = append(so, &blevesearch.SortScore{Desc: true})
	}
	return append(so, &blevesearch.SortDocID{})
}

// defaultBrowseSort is the order of a search without text or sort: most popular first, then by title.
var defaultBrowseSort = []search.SortKey{{Field: search.SortPopularity, Desc: true}, {Field: search.SortTitle}}
