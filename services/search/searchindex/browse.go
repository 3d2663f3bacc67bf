package searchindex

import (
	"context"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// byPopularity reports whether a sort puts the most popular movies first, as a browse page does.
func byPopularity(keys []search.SortKey) bool {
	return len(keys) > 0 && keys[0].Field == search.SortPopularity && keys[0].Desc
}

// browseTop answers req, a browse sorted most popular first, by sorting only the movies popular enough to
// be on its page: sorting every movie of a 1M catalog by its doc values takes about a second, while the
// popularity histogram of the priors tells which popularity the page's last movie has at least. A filter
// keeps a share of the movies; the floor is then chosen for twice the page's depth over that share, and if the
// movies above it are still too few to fill the page, ok is false and the caller sorts every match. The
// answer's total is the number of matches, counted apart.
func (x *Index) browseTop(ctx context.Context, member query.Query, req *bleve.SearchRequest) (sr *bleve.SearchResult, ok bool, err error) {
	docs, err := x.bi.DocCount()
	if err != nil {
		return nil, false, err
	}
	total := docs
	_, all := member.(*query.MatchAllQuery)
	if !all {
		if total, err = x.count(ctx, member); err != nil {
			return nil, false, err
		}
	}
	depth := req.From + req.Size
	if total == 0 || depth == 0 {
		return nil, false, nil
	}
	want := float64(depth)
	if !all {
		want *= 2 * float64(docs) / float64(total) // the filter's share, with room for how it spreads
	}
	if want > float64(docs)/2 {
		return nil, false, nil // the page reaches too deep into the catalog to gain much
	}
	floor, found := x.priors.popularityFloor(int(want))
	if !found {
		return nil, false, nil
	}
	inclusive := true
	popular := query.NewNumericRangeInclusiveQuery(&floor, nil, &inclusive, nil)
	popular.SetField(fieldPopularity)
	narrowed := *req
	narrowed.Query = query.Query(popular)
	if !all {
		narrowed.Query = query.NewConjunctionQuery([]query.Query{req.Query, popular})
	}
	sr, err = x.query(ctx, &narrowed)
	if err != nil || sr.Total < uint64(depth) {
		return nil, false, err
	}
	sr.Total = total
	return sr, true, nil
}
