package searchindex

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// facetCounts are the browse page's facets over the whole catalog, kept in memory so that a browse never
// counts every movie (a facet over every movie costs ~1 s at 1M movies). They are built from the index on
// open and kept by Apply: each applied batch subtracts the old state of the movies it changes and adds the
// new one. Only low-cardinality facets are kept (genres, language and the numeric buckets; min and max of
// the stats facets); directors and cast are counted per request, on a sample when there are many matches.
type facetCounts struct {
	mu     sync.RWMutex
	values map[string]map[string]int // facet → value or bucket → movies
	stats  map[string]*minMax        // stats facet → min and max
	gen    uint64                    // commits so far: a recount stores its result only if none came between
	// A batch is searchable before Apply commits its delta (on a sharded index, each shard's part as that
	// shard writes it). Meanwhile, and for a search of a checkpoint the counts do not hold yet, a search
	// counts its facets itself: its answer, cached at its checkpoint, would otherwise show movies without
	// their facets.
	writing int    // batches being written, whose deltas are not committed yet
	at      uint64 // the checkpoint whose batches the counts all hold
}

// current reports whether the counts hold every batch a search of checkpoint may see.
func (fc *facetCounts) current(checkpoint uint64) bool {
	fc.mu.RLock()
	defer fc.mu.RUnlock()
	return fc.writing == 0 && fc.at >= checkpoint
}

// writeBegins records that a batch is about to be written.
func (fc *facetCounts) writeBegins() {
	if fc == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.writing++
}

// writeEnds records that a batch's deltas are committed, and, if it was written whole, that the counts hold
// every batch up to its checkpoint.
func (fc *facetCounts) writeEnds(checkpoint uint64, whole bool) {
	if fc == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.writing--
	if whole {
		fc.at = max(fc.at, checkpoint)
	}
}

// countedFacets are the facets facetCounts keeps.
var countedFacets = func() map[string]bool {
	counted := map[string]bool{
		search.FacetGenres: true, search.FacetDecade: true, search.FacetRating: true,
		search.FacetRuntime: true, search.FacetYear: true, search.FacetPopularity: true, search.FacetVotes: true,
	}
	for _, c := range search.CodeFilters {
		counted[c.Name] = true
	}
	return counted
}()

// minMax is a stats facet over the catalog. A removed movie that held the min or the max makes it stale: it
// is recounted on the next read.
type minMax struct {
	min, max *float64
	stale    bool
}

// facetDelta is the change of one batch to the counts.
type facetDelta struct {
	values map[string]map[string]int
	stats  map[string][]float64 // removed values (they may have been the min or the max)
	added  map[string][]float64
}

func newFacetDelta() *facetDelta {
	return &facetDelta{values: map[string]map[string]int{}, stats: map[string][]float64{}, added: map[string][]float64{}}
}

// facetSource is what a movie contributes to the kept facets.
func facetSource(m *search.Movie) (values map[string][]string, nums map[string]*float64) {
	values = map[string][]string{}
	seen := map[string]bool{}
	for _, g := range m.Genres {
		if !seen[g] {
			seen[g] = true
			values[search.FacetGenres] = append(values[search.FacetGenres], g)
		}
	}
	for _, c := range search.CodeFilters {
		if v := c.Value(m); v != "" {
			values[c.Name] = []string{c.Fold(v)}
		}
	}
	fl := func(p *int) *float64 {
		if p == nil {
			return nil
		}
		v := float64(*p)
		return &v
	}
	var votes *float64
	if m.Votes != nil {
		v := float64(*m.Votes)
		votes = &v
	}
	year := fl(m.Year)
	nums = map[string]*float64{search.FacetYear: year, search.FacetPopularity: m.Popularity, search.FacetVotes: votes}
	for name, v := range map[string]*float64{search.FacetDecade: year, search.FacetRating: m.Rating, search.FacetRuntime: fl(m.RuntimeMinutes)} {
		if b, ok := bucketOf(bucketsOf[name](), v); ok {
			values[name] = []string{b}
		}
	}
	return values, nums
}

var bucketsOf = map[string]func() []bucket{search.FacetDecade: decades, search.FacetRating: ratings, search.FacetRuntime: runtimes}

// bucketOf names the bucket v falls in, by Bleve's rule: min inclusive, max exclusive.
func bucketOf(bs []bucket, v *float64) (string, bool) {
	if v == nil {
		return "", false
	}
	for _, b := range bs {
		if (b.min == nil || *v >= *b.min) && (b.max == nil || *v < *b.max) {
			return b.name, true
		}
	}
	return "", false
}

// note adds to d the change of one movie: its old state (nil if the index held none) leaves, its new one
// (nil for a delete) enters.
func (d *facetDelta) note(old, cur *search.Movie) {
	for sign, m := range map[int]*search.Movie{-1: old, 1: cur} {
		if m == nil {
			continue
		}
		values, nums := facetSource(m)
		for name, vs := range values {
			if d.values[name] == nil {
				d.values[name] = map[string]int{}
			}
			for _, v := range vs {
				d.values[name][v] += sign
			}
		}
		for name, v := range nums {
			if v == nil {
				continue
			}
			if sign < 0 {
				d.stats[name] = append(d.stats[name], *v)
			} else {
				d.added[name] = append(d.added[name], *v)
			}
		}
	}
}

// noteChange records, for the facet counts, that Apply is about to write change c of a movie whose state
// the index holds (held: not new, not deleted). Apply calls it for every change it writes, under applyMu.
func (x *Index) noteChange(d *facetDelta, c Change, held bool) error {
	if x.counts == nil {
		return nil
	}
	var old *search.Movie
	if held {
		m, err := x.Movie(context.Background(), c.ID)
		if err != nil {
			return fmt.Errorf("facet counts: %w", err)
		}
		old = m
	}
	d.note(old, c.Movie)
	return nil
}

// commit applies a durable batch's delta to the counts.
func (fc *facetCounts) commit(d *facetDelta) {
	if fc == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.gen++
	for name, vs := range d.values {
		m := fc.values[name]
		if m == nil {
			m = map[string]int{}
			fc.values[name] = m
		}
		for v, n := range vs {
			if m[v] += n; m[v] <= 0 {
				delete(m, v)
			}
		}
	}
	for name, removed := range d.stats {
		st := fc.stats[name]
		for _, v := range removed {
			if (st.min != nil && v <= *st.min) || (st.max != nil && v >= *st.max) {
				st.stale = true
			}
		}
	}
	for name, added := range d.added {
		st := fc.stats[name]
		for _, v := range added {
			if st.min == nil || v < *st.min {
				st.min = &v
			}
			if st.max == nil || v > *st.max {
				st.max = &v
			}
		}
	}
}

// buildFacetCounts counts the kept facets over the whole index: one facet search of every movie. Call it
// before any Apply (or under applyMu).
func (x *Index) buildFacetCounts(ctx context.Context) error {
	at, err := x.Checkpoint()
	if err != nil {
		return err
	}
	fc := &facetCounts{values: map[string]map[string]int{}, stats: map[string]*minMax{}, at: at}
	var q search.Query
	for _, name := range search.FacetNames {
		if countedFacets[name] {
			q.Facets = append(q.Facets, name)
		}
	}
	res := &search.Result{Facets: map[string]search.Facet{}}
	if err := x.countFacets(ctx, nil, &q, query.NewMatchAllQuery(), filters{}, res, false); err != nil {
		return err
	}
	for name := range countedFacets {
		f := res.Facets[name]
		if f.Stats != nil {
			fc.stats[name] = &minMax{min: f.Stats.Min, max: f.Stats.Max}
			continue
		}
		m := map[string]int{}
		for _, v := range f.Values {
			m[v.Value] = v.Count
		}
		fc.values[name] = m
	}
	x.counts = fc
	return nil
}

// catalogFacet is a kept facet of the whole catalog, as a search would count it.
func (x *Index) catalogFacet(ctx context.Context, name string, size int) (search.Facet, error) {
	fc := x.counts
	fc.mu.RLock()
	if st, ok := fc.stats[name]; ok {
		if !st.stale {
			f := search.Facet{Stats: &search.FacetStats{Min: st.min, Max: st.max}}
			fc.mu.RUnlock()
			return f, nil
		}
		fc.mu.RUnlock()
		return x.recountStats(ctx, name)
	}
	defer fc.mu.RUnlock()
	counts := fc.values[name]
	vals := []search.FacetValue{}
	if bs := bucketsOf[name]; bs != nil {
		for _, b := range bs() {
			if n := counts[b.name]; n > 0 {
				vals = append(vals, search.FacetValue{Value: b.name, Count: n, From: b.from, To: b.to})
			}
		}
		return search.Facet{Values: vals}, nil
	}
	for v, n := range counts {
		vals = append(vals, search.FacetValue{Value: v, Count: n})
	}
	sort.Slice(vals, func(i, j int) bool {
		if vals[i].Count != vals[j].Count {
			return vals[i].Count > vals[j].Count
		}
		return vals[i].Value < vals[j].Value
	})
	if len(vals) > size {
		vals = vals[:size]
	}
	return search.Facet{Values: vals}, nil
}

// recountStats finds a stale min and max again, over every movie.
func (x *Index) recountStats(ctx context.Context, name string) (search.Facet, error) {
	fc := x.counts
	fc.mu.RLock()
	gen := fc.gen
	fc.mu.RUnlock()
	st, err := x.stats(ctx, query.NewMatchAllQuery(), x.facetDefs(&search.Query{})[name].field)
	if err != nil {
		return search.Facet{}, err
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.gen == gen {
		fc.stats[name] = &minMax{min: st.Min, max: st.Max}
	}
	return search.Facet{Stats: st}, nil
}
