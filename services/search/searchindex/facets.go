package searchindex

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"golang.org/x/sync/errgroup"

	"marquee/pkg/shardwire"
	"marquee/services/search"
)

// facetSize bounds a value facet: more genres or codes (languages, …) than any catalog has, and the top
// people.
var facetSize = func() map[string]int {
	size := map[string]int{search.FacetGenres: 100, search.FacetDirectors: 30, search.FacetCast: 30}
	for _, c := range search.CodeFilters {
		size[c.Name] = 100
	}
	return size
}()

// facetDef says how a facet is computed and which filter it ignores (multi-select): "" for none.
type facetDef struct {
	field    string
	labelled bool   // the field's terms are labelled values: the facet shows their labels
	filter   string // of a value facet, the filter that picks movies of a value
	own      string
	bucket   func() []bucket // numeric buckets; nil for a value facet
	stats    bool            // min and max
}

type bucket struct {
	name     string
	from, to *float64 // shown bounds, inclusive
	min, max *float64 // Bleve's range: min inclusive, max exclusive
}

func f(v float64) *float64 { return &v }

func (x *Index) facetDefs(q *search.Query) map[string]facetDef {
	genreOwn := filterGenre
	if q.GenreMode == search.GenreAll {
		genreOwn = "" // ticking another genre narrows: count within the current matches
	}
	defs := map[string]facetDef{
		search.FacetGenres:     {field: fieldGenre, filter: filterGenre, own: genreOwn},
		search.FacetDirectors:  {field: fieldDirector, labelled: true, filter: filterDirector, own: filterDirector},
		search.FacetCast:       {field: fieldCastName, labelled: true, filter: filterCast},
		search.FacetDecade:     {field: fieldYear, own: filterYear, bucket: decades},
		search.FacetRating:     {field: fieldRating, own: filterRating, bucket: ratings},
		search.FacetRuntime:    {field: fieldRuntime, own: filterRuntime, bucket: runtimes},
		search.FacetYear:       {field: fieldYear, own: filterYear, stats: true},
		search.FacetPopularity: {field: fieldPopularity, own: filterPopularity, stats: true},
		search.FacetVotes:      {field: fieldVotes, stats: true},
	}
	for _, c := range search.CodeFilters {
		defs[c.Name] = facetDef{field: c.Name, filter: c.Name, own: c.Name}
	}
	return defs
}

func decades() []bucket {
	var bs []bucket
	for y := 1870; y <= 2030; y += 10 {
		bs = append(bs, bucket{name: strconv.Itoa(y) + "s", from: f(float64(y)), to: f(float64(y + 9)), min: f(float64(y)), max: f(float64(y + 10))})
	}
	return bs
}

func ratings() []bucket {
	var bs []bucket
	for r := 0; r < 10; r++ {
		b := bucket{name: fmt.Sprintf("%d-%d", r, r+1), from: f(float64(r)), to: f(float64(r + 1)), min: f(float64(r)), max: f(float64(r + 1))}
		if r == 9 {
			b.max = nil // 10 belongs to the top bucket
		}
		bs = append(bs, b)
	}
	return bs
}

func runtimes() []bucket {
	return []bucket{
		{name: "<90", from: f(0), to: f(89), min: f(0), max: f(90)},
		{name: "90-119", from: f(90), to: f(119), min: f(90), max: f(120)},
		{name: "120-149", from: f(120), to: f(149), min: f(120), max: f(150)},
		{name: "150+", from: f(150), min: f(150)},
	}
}

// DefaultFacetSampleAbove is the number of matches above which facets are counted on a sample.
const DefaultFacetSampleAbove = 20000

// sampleBuckets is how many sample buckets the movies are spread over (by a hash of their id, in the sample
// field); a facet sample is the movies of the first few buckets.
const sampleBuckets = 256

// sampleKey is the sample bucket of a movie id.
func sampleKey(id int64) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strconv.FormatInt(id, 10)))
	return strconv.Itoa(int(h.Sum32() % sampleBuckets))
}

// sampleQuery matches the movies of the first m sample buckets: about m/sampleBuckets of them.
func sampleQuery(m int) query.Query {
	qs := make([]query.Query, m)
	for i := range qs {
		tq := query.NewTermQuery(strconv.Itoa(i))
		tq.SetField(fieldSample)
		qs[i] = tq
	}
	return query.NewDisjunctionQuery(qs)
}

// facets computes the facets q asks for over the matches (member, narrowed by the filters). Unless the
// index counts facets exactly (Options.ExactFacets), the facets of the whole catalog come from the counts
// Apply keeps, and a group of more than Options.FacetSampleAbove matches is counted on a sample, its counts
// scaled up and the result marked approximate.
func (x *Index) facets(ctx context.Context, e *executor, q *search.Query, member query.Query, fs filters, res *search.Result) error {
	return x.countFacets(ctx, e, q, member, fs, res, !x.opts.ExactFacets)
}

// countFacets computes the facets; bounded allows the kept counts and sampling. A facet whose own filter is
// set is counted without it, in a search of its own; the searches run in parallel.
func (x *Index) countFacets(ctx context.Context, e *executor, q *search.Query, member query.Query, fs filters, res *search.Result, bounded bool) error {
	defs := x.facetDefs(q)
	groups := map[string][]string{} // the filter left out → the facets counted that way
	for _, name := range search.FacetNames {
		if !q.Wants(name) {
			continue
		}
		own := defs[name].own
		if _, set := fs[own]; !set {
			own = ""
		}
		groups[own] = append(groups[own], name)
	}
	type out struct {
		name  string
		facet search.Facet
		scale float64     // of a merge's sampled facet, whose values are left unscaled
		base  query.Query // of a merge's value facet, the movies it counted
	}
	results := make(chan out, len(search.FacetNames))
	_, browse := member.(*query.MatchAllQuery)
	limit := x.opts.FacetSampleAbove
	if limit <= 0 {
		limit = DefaultFacetSampleAbove
	}
	var approximate atomic.Bool
	// A merge's value facets run deeper than a client's answer (one more value tells that more follow):
	// summed over the shards, they must hold the whole catalog's top values.
	depth := func(name string, d facetDef) int {
		if q.Merge && d.bucket == nil {
			return mergeFacetDepth + 1
		}
		return facetSizeOf(name, d)
	}
	g, gctx := errgroup.WithContext(ctx)
	for own, names := range groups {
		filter := fs.without(own)
		matches := and(member, filter)
		if bounded && browse && filter == nil && x.counts != nil && x.counts.current(res.Index.Version) {
			var rest []string
			for _, name := range names {
				if !countedFacets[name] {
					rest = append(rest, name)
					continue
				}
				f, err := x.catalogFacet(ctx, name, depth(name, defs[name]))
				if err != nil {
					return err
				}
				results <- out{name, f, 1, matches}
			}
			if names = rest; len(names) == 0 {
				continue
			}
		}
		g.Go(func() error {
			// The executor counts a facet of few values exactly, from each value's bitmap: cheaper than
			// drawing a sample of many matches. Only the facets Bleve counts, by walking the matches'
			// values, are counted on a sample.
			var byBleve []string
			for _, name := range names {
				d := defs[name]
				if d.stats {
					continue
				}
				if facetByBitmaps(d) && e != nil {
					vals, err := e.facet(matches, d, depth(name, d))
					if err == nil {
						results <- out{name, search.Facet{Values: vals}, 1, matches}
						continue
					}
					if !errors.Is(err, errUnsupported) {
						return fmt.Errorf("facets: %w", err)
					}
				}
				byBleve = append(byBleve, name)
			}
			if len(byBleve) > 0 {
				req := bleve.NewSearchRequestOptions(matches, 0, 0, false)
				req.Score = "none"
				scale := 1.0
				if bounded {
					n := res.Total
					if own != "" || res.Total == 0 || x.peerSet() != nil { // a shard's total is its own
						var err error
						if n, err = x.countWith(gctx, e, matches); err != nil {
							return err
						}
					}
					if n > uint64(limit) {
						m := max(1, int(math.Ceil(float64(sampleBuckets)*float64(limit)/float64(n))))
						req.Query = and(matches, sampleQuery(m))
						scale = float64(sampleBuckets) / float64(m)
						approximate.Store(true)
					}
				}
				for _, name := range byBleve {
					d := defs[name]
					fr := bleve.NewFacetRequest(d.field, depth(name, d))
					if d.bucket != nil {
						for _, b := range d.bucket() {
							fr.AddNumericRange(b.name, b.min, b.max)
						}
					}
					req.AddFacet(name, fr)
				}
				sr, err := x.query(gctx, req)
				if err != nil {
					return fmt.Errorf("facets: %w", err)
				}
				for _, name := range byBleve {
					if sr.Facets[name] == nil {
						continue
					}
					if vals := facetValues(sr.Facets[name], defs[name]); q.Merge {
						results <- out{name, search.Facet{Values: vals}, scale, req.Query} // scaled once summed
					} else {
						results <- out{name, search.Facet{Values: scaled(vals, scale)}, 1, nil}
					}
				}
			}
			for _, name := range names {
				if d := defs[name]; d.stats {
					st, err := x.stats(gctx, matches, d.field)
					if err != nil {
						return err
					}
					results <- out{name, search.Facet{Stats: st}, 1, nil}
				}
			}
			return nil
		})
	}
	err := g.Wait()
	close(results)
	if err != nil {
		return err
	}
	for o := range results {
		if d := defs[o.name]; q.Merge && o.facet.Stats == nil {
			m := &shardwire.Facet{Size: facetSizeOf(o.name, d), Scale: o.scale}
			if len(o.facet.Values) > mergeFacetDepth {
				o.facet.Values, m.More = o.facet.Values[:mergeFacetDepth], true
			}
			for _, v := range o.facet.Values {
				if v.Term != "" {
					if m.Terms == nil {
						m.Terms = map[string]string{}
					}
					m.Terms[v.Value] = v.Term
				}
			}
			var err error
			if m.Counts, err = x.valueCounts(ctx, e, d, o.base, q.FacetCounts[o.name]); err != nil {
				return err
			}
			o.facet.Merge = m
		}
		res.Facets[o.name] = o.facet
	}
	res.FacetsApproximate = approximate.Load()
	return nil
}

// valueCounts counts, among the movies base matches, those of each of values of the value facet d.
func (x *Index) valueCounts(ctx context.Context, e *executor, d facetDef, base query.Query, values []string) (map[string]int, error) {
	if len(values) == 0 {
		return nil, nil
	}
	counts := make(map[string]int, len(values))
	for _, v := range values {
		var one search.Query
		switch d.filter {
		case filterGenre:
			one.Genres = []string{v}
		case filterDirector:
			one.Directors = []string{v}
		case filterCast:
			one.Cast = []string{v}
		default:
			one.Codes = map[string][]string{d.filter: {v}}
		}
		n, err := x.countHere(ctx, e, and(base, x.filters(&one)[d.filter]))
		if err != nil {
			return nil, fmt.Errorf("facet count of %q: %w", v, err)
		}
		counts[v] = int(n)
	}
	return counts, nil
}

// mergeFacetDepth is how many values of a value facet a merge's shard gives. The gateway sums them, and
// asks a shard that left a value out for that value's count when it cannot tell it from the rest.
const mergeFacetDepth = 1000

// facetSizeOf is how many values of facet name a result holds: every bucket of a bucket facet.
func facetSizeOf(name string, d facetDef) int {
	if d.bucket != nil {
		return 20
	}
	return facetSize[name]
}

// scaled multiplies the counts of a sample's facet values up to estimates for all matches.
func scaled(vals []search.FacetValue, scale float64) []search.FacetValue {
	if scale == 1 {
		return vals
	}
	for i := range vals {
		vals[i].Count = int(math.Round(float64(vals[i].Count) * scale))
	}
	return vals
}

// facetValues converts a Bleve facet: values by count (descending) then value; buckets in numeric order,
// empty ones left out.
func facetValues(fr *blevesearch.FacetResult, d facetDef) []search.FacetValue {
	vals := []search.FacetValue{}
	if fr == nil {
		return vals
	}
	if d.bucket != nil {
		counts := map[string]int{}
		for _, r := range fr.NumericRanges {
			counts[r.Name] = r.Count
		}
		for _, b := range d.bucket() {
			if n := counts[b.name]; n > 0 {
				vals = append(vals, search.FacetValue{Value: b.name, Count: n, From: b.from, To: b.to})
			}
		}
		return vals
	}
	if fr.Terms == nil {
		return vals
	}
	for _, t := range fr.Terms.Terms() {
		fv := search.FacetValue{Value: t.Term, Count: t.Count}
		if d.labelled {
			fv.Value, fv.Term = labelOf(t.Term), t.Term
		}
		vals = append(vals, fv)
	}
	sort.Slice(vals, func(i, j int) bool {
		if vals[i].Count != vals[j].Count {
			return vals[i].Count > vals[j].Count
		}
		return vals[i].Value < vals[j].Value
	})
	return vals
}

// stats finds the smallest and largest value of a numeric field among the matches: two searches of one
// hit each, sorted by the field (movies without a value sort last).
func (x *Index) stats(ctx context.Context, matches query.Query, field string) (*search.FacetStats, error) {
	st := &search.FacetStats{}
	for _, desc := range []bool{false, true} {
		req := bleve.NewSearchRequestOptions(matches, 1, 0, false)
		req.Score = "none"
		req.SortByCustom(blevesearch.SortOrder{&blevesearch.SortField{Field: field, Desc: desc, Type: blevesearch.SortFieldAsNumber, Missing: blevesearch.SortFieldMissingLast}})
		sr, err := x.query(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("facet stats of %s: %w", field, err)
		}
		if len(sr.Hits) == 0 || len(sr.Hits[0].DecodedSort) == 0 {
			return st, nil
		}
		v, err := strconv.ParseFloat(sr.Hits[0].DecodedSort[0], 64)
		if err != nil {
			return st, nil // the best hit has no value: none has
		}
		if desc {
			st.Max = &v
		} else {
			st.Min = &v
		}
	}
	return st, nil
}
