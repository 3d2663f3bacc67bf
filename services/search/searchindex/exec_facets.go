package searchindex

import (
	"fmt"
	"math"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// sparseMatches: matches fewer than one in sparseMatches of a segment's documents are counted one by
// one through each document's values; more, by intersecting each value's documents with them.
const sparseMatches = 16

// facetByBitmaps says whether the executor counts facet d: a field of few values (genres, languages,
// years, ratings, runtimes), each counted as its postings' intersection with the matches. The people
// facets have a value per person and stay with Bleve's walk of the matches' doc values; min-max stats too.
func facetByBitmaps(d facetDef) bool { return !d.labelled && !d.stats }

// facet counts facet d over the movies q matches, as Bleve's facet builders count them from doc values:
// a value facet's top size values by count, then value; a bucket facet's non-empty buckets in order.
func (e *executor) facet(q query.Query, d facetDef, size int) ([]search.FacetValue, error) {
	if e == nil {
		return nil, errUnsupported
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.open(); err != nil {
		return nil, err
	}
	var buckets []bucket
	if d.bucket != nil {
		buckets = d.bucket()
	}
	if err := e.prefetchPrefixes(q); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, s := range e.shards {
		n, err := s.compile(q)
		if err != nil {
			return nil, err
		}
		matches := make([]*roaring.Bitmap, len(s.segs))
		empty := true
		for i := range s.segs {
			if err := e.ctx.Err(); err != nil {
				return nil, err
			}
			if matches[i], err = s.matches(n, i); err != nil {
				return nil, err
			}
			empty = empty && matches[i].IsEmpty()
		}
		if empty {
			continue
		}
		for i, sg := range s.segs {
			if matches[i].IsEmpty() {
				continue
			}
			ff, err := sg.cache.facetTerms(sg.ss.Segment(), d.field)
			if err != nil {
				return nil, fmt.Errorf("executor: facet %s: %w", d.field, err)
			}
			perTerm := make([]int, len(ff.terms))
			docs := sg.ss.Segment().Count()
			if m := matches[i]; m.GetCardinality()*sparseMatches < docs && ff.byDocument(docs) {
				it := m.Iterator()
				for it.HasNext() {
					ff.count(it.Next(), perTerm)
				}
			} else {
				for j, t := range ff.terms {
					perTerm[j] = int(t.docs.AndCardinality(m))
				}
			}
			for j, c := range perTerm {
				if c == 0 {
					continue
				}
				t := ff.terms[j]
				if buckets == nil {
					counts[t.term] += c
					continue
				}
				v, ok := exactValue(t.term)
				if !ok {
					continue
				}
				for _, b := range buckets {
					if (b.min == nil || v >= *b.min) && (b.max == nil || v < *b.max) {
						counts[b.name] += c
					}
				}
			}
		}
	}
	vals := []search.FacetValue{}
	if buckets != nil {
		for _, b := range buckets {
			if n := counts[b.name]; n > 0 {
				vals = append(vals, search.FacetValue{Value: b.name, Count: n, From: b.from, To: b.to})
			}
		}
		return vals, nil
	}
	for v, n := range counts {
		if n > 0 {
			vals = append(vals, search.FacetValue{Value: v, Count: n})
		}
	}
	sort.Slice(vals, func(i, j int) bool {
		if vals[i].Count != vals[j].Count {
			return vals[i].Count > vals[j].Count
		}
		return vals[i].Value < vals[j].Value
	})
	return vals[:min(len(vals), size)], nil
}

// exactValue is the number of a term written by exactNumber (shift 0): what Bleve's numeric facet reads.
func exactValue(term string) (float64, bool) {
	pc := numeric.PrefixCoded(term)
	if shift, err := pc.Shift(); err != nil || shift != 0 {
		return math.NaN(), false
	}
	i, err := pc.Int64()
	if err != nil {
		return math.NaN(), false
	}
	return numeric.Int64ToFloat64(i), true
}
