package searchindex

import (
	"strconv"

	"github.com/blevesearch/bleve/v2/numeric"
	blevesearch "github.com/blevesearch/bleve/v2/search"
)

// weightedRatingSort orders by the weighted rating (see weightedRating), read from the priors by movie id:
// the catalog's mean rating changes with every write, so no indexed value could hold it. One search, and the
// pages that follow it by cursor, pull towards one mean (see cursor). Movies without a rating come last in
// either direction, as with Bleve's own field sorts.
type weightedRatingSort struct {
	x       *Index
	desc    bool
	mean    float64 // NaN: none, each rating stands as it is
	missing string  // the value of a movie without a rating: below every value when descending, above when not
}

func newWeightedRatingSort(x *Index, desc bool, mean float64) *weightedRatingSort {
	s := &weightedRatingSort{x: x, desc: desc, mean: mean, missing: "\xff"}
	if desc {
		s.missing = ""
	}
	return s
}

var _ blevesearch.SearchSort = (*weightedRatingSort)(nil)

func (s *weightedRatingSort) UpdateVisitor(string, []byte) {}

// Value is the weighted rating prefix-coded, so that its strings compare as its numbers do.
func (s *weightedRatingSort) Value(d *blevesearch.DocumentMatch) string {
	id, err := strconv.ParseInt(d.ID, 10, 64)
	if err != nil {
		return s.missing
	}
	wr, ok := s.x.priors.weightedRating(id, s.mean, s.x.rank.WeightedRatingMinVotes)
	if !ok {
		return s.missing
	}
	return string(numeric.MustNewPrefixCodedInt64(numeric.Float64ToInt64(wr), 0))
}

func (s *weightedRatingSort) DecodeValue(value string) string {
	i64, err := numeric.PrefixCoded(value).Int64()
	if err != nil {
		return value
	}
	return strconv.FormatFloat(numeric.Int64ToFloat64(i64), 'f', -1, 64)
}

func (s *weightedRatingSort) Descending() bool         { return s.desc }
func (s *weightedRatingSort) RequiresDocID() bool      { return true }
func (s *weightedRatingSort) RequiresScoring() bool    { return false }
func (s *weightedRatingSort) RequiresFields() []string { return nil }

// Reverse turns the order around, for a search before a hit: the movies without a rating keep their value,
// so that they come first in the reversed order as they came last in the order.
func (s *weightedRatingSort) Reverse() { s.desc = !s.desc }

func (s *weightedRatingSort) Copy() blevesearch.SearchSort {
	c := *s
	return &c
}
