package shards

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"marquee/pkg/shardwire"
)

type facetValue struct {
	Value string   `json:"value"`
	Count int      `json:"count"`
	From  *float64 `json:"from,omitempty"`
	To    *float64 `json:"to,omitempty"`
}

type facetStats struct {
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
}

// valueFacet sums one value facet over the shards. A shard's facet may leave values out (shardwire.Facet
// More): each of those counts no more than its last value given, its floor. A value the merged facet shows
// that a shard left out is counted by asking that shard; a value no shard gave can only be shown if the
// floors' sum reaches the facet's last count, and then the facet is approximate.
type valueFacet struct {
	size   int                   // the values a client's answer holds
	sums   map[string]float64    // each shard's counts times its scale, added up
	shown  map[string]facetValue // the value's bucket bounds
	terms  map[string]string     // the values' terms, where not the values
	given  []map[string]bool     // by shard: the values it gave or counted
	floors []float64             // by shard: a left-out value's most, scaled
	scales []float64             // by shard: its counts' scale (a sample's)
	bucket bool                  // numeric buckets, in their order
	broken bool                  // a shard did not say how it counted: the facet cannot be exact
}

func newValueFacet(shards int) *valueFacet {
	return &valueFacet{sums: map[string]float64{}, shown: map[string]facetValue{}, terms: map[string]string{},
		given: make([]map[string]bool, shards), floors: make([]float64, shards), scales: make([]float64, shards)}
}

// add takes shard's facet. Shards may count on samples of different scales (one answers from its kept
// counts, another samples; a write lands between their counts), so each count is scaled by its shard's.
func (f *valueFacet) add(shard int, vals []facetValue, info shardwire.Facet, ok bool) {
	if !ok || info.Size <= 0 {
		f.broken, info.Size = true, max(info.Size, len(vals))
	}
	f.size = max(f.size, info.Size)
	f.scales[shard] = max(1, info.Scale)
	f.given[shard] = map[string]bool{}
	for _, v := range vals {
		f.sums[v.Value] += float64(v.Count) * f.scales[shard]
		f.given[shard][v.Value] = true
		f.shown[v.Value] = v
		f.bucket = f.bucket || v.From != nil
	}
	if info.More && len(vals) > 0 {
		f.floors[shard] = float64(vals[len(vals)-1].Count) * f.scales[shard]
	}
	for v, term := range info.Terms {
		f.terms[v] = term
	}
	for v, n := range info.Counts {
		f.counted(shard, v, n)
	}
}

// term is what orders v among values of its count where the facet is cut.
func (f *valueFacet) term(v string) string {
	if t, ok := f.terms[v]; ok {
		return t
	}
	return v
}

func (f *valueFacet) counted(shard int, v string, n int) {
	if f.given[shard] == nil {
		f.given[shard] = map[string]bool{}
	}
	if !f.given[shard][v] {
		f.given[shard][v] = true
		f.sums[v] += float64(n) * max(1, f.scales[shard])
		if _, ok := f.shown[v]; !ok {
			f.shown[v] = facetValue{Value: v}
		}
	}
}

// ranked is every value known, in the order the facet is cut in: buckets by their bounds, values by count
// then term.
func (f *valueFacet) ranked() []string {
	vals := make([]string, 0, len(f.sums))
	for v := range f.sums {
		vals = append(vals, v)
	}
	if f.bucket {
		sort.Slice(vals, func(i, j int) bool {
			a, b := f.shown[vals[i]].From, f.shown[vals[j]].From
			return a != nil && (b == nil || *a < *b)
		})
		return vals
	}
	slices.SortFunc(vals, func(a, b string) int {
		return cmp.Or(cmp.Compare(f.sums[b], f.sums[a]), cmp.Compare(f.term(a), f.term(b)), cmp.Compare(a, b))
	})
	return vals
}

// left is the most a value that shard left out may count for there; 0 if the shard gave or counted it.
func (f *valueFacet) left(shard int, v string) float64 {
	if f.given[shard][v] {
		return 0
	}
	return f.floors[shard]
}

// unsure are the values whose counts some shard left out and which could change what the facet shows:
// those it shows, and those that could overtake its last value.
func (f *valueFacet) unsure() []string {
	ranked := f.ranked()
	if f.bucket || len(ranked) == 0 {
		return nil
	}
	size := min(f.size, len(ranked))
	last := ranked[size-1]
	var out []string
	for k, v := range ranked {
		upper, left := f.sums[v], 0.0
		for s := range f.floors {
			left += f.left(s, v)
		}
		if upper += left; left == 0 || (k >= size && (upper < f.sums[last] || (upper == f.sums[last] && f.term(v) > f.term(last)))) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// questions are, by shard, the unsure values it left out.
func (f *valueFacet) questions() map[int][]string {
	asks := map[int][]string{}
	for _, v := range f.unsure() {
		for s := range f.floors {
			if f.left(s, v) > 0 {
				asks[s] = append(asks[s], v)
			}
		}
	}
	return asks
}

// values are the facet's values as a client gets them, and whether they are exact: no value left out of
// every shard could be among them.
func (f *valueFacet) values() ([]facetValue, bool) {
	ranked := f.ranked()
	if !f.bucket && len(ranked) > f.size {
		ranked = ranked[:f.size]
	}
	last := ""
	if len(ranked) > 0 {
		last = ranked[len(ranked)-1]
	}
	if !f.bucket { // shown by count, then value
		ranked = slices.Clone(ranked)
		slices.SortFunc(ranked, func(a, b string) int { return cmp.Or(cmp.Compare(f.sums[b], f.sums[a]), cmp.Compare(a, b)) })
	}
	unseen := 0.0
	for s := range f.floors {
		unseen += f.floors[s]
	}
	out := make([]facetValue, len(ranked))
	for i, v := range ranked {
		fv := f.shown[v]
		fv.Count = int(math.Round(f.sums[v]))
		out[i] = fv
	}
	exact := !f.broken && len(f.unsure()) == 0
	if !f.bucket && unseen > 0 && (len(ranked) < f.size || unseen >= f.sums[last]) {
		exact = false // a value no shard gave could be among them
	}
	return out, exact
}

// mergeFacets fills out's facets from the shards' pages, asking shards for the counts of values they left
// out where those decide the facet; it reports whether a facet could not be made exact.
func (m *Merger) mergeFacets(r *http.Request, pages []*result, asked func(int) url.Values, transcript []byte, out *result) (approximate bool, err error) {
	values := map[string]*valueFacet{}
	for s, p := range pages {
		for name, raw := range p.Facets {
			if len(raw) > 0 && raw[0] == '{' {
				var st facetStats
				if err := json.Unmarshal(raw, &st); err != nil {
					return false, fmt.Errorf("shard %d facet %s: %w", s, name, err)
				}
				if err := mergeStats(out, name, st); err != nil {
					return false, err
				}
				continue
			}
			var vals []facetValue
			if err := json.Unmarshal(raw, &vals); err != nil {
				return false, fmt.Errorf("shard %d facet %s: %w", s, name, err)
			}
			if values[name] == nil {
				values[name] = newValueFacet(len(pages))
			}
			info, ok := p.Merge.Facets[name]
			values[name].add(s, vals, info, ok)
		}
	}
	asks := map[int]map[string][]string{}
	for name, f := range values {
		for s, vals := range f.questions() {
			if asks[s] == nil {
				asks[s] = map[string][]string{}
			}
			asks[s][name] = vals
		}
	}
	if len(asks) > 0 {
		if err := m.countValues(r, asks, asked, transcript, values); err != nil {
			return false, err
		}
	}
	for name, f := range values {
		vals, exact := f.values()
		approximate = approximate || !exact
		if out.Facets[name], err = json.Marshal(vals); err != nil {
			return false, err
		}
	}
	return approximate, nil
}

// countValues asks shards for the counts of values their facets left out.
func (m *Merger) countValues(r *http.Request, asks map[int]map[string][]string, asked func(int) url.Values, transcript []byte, facets map[string]*valueFacet) error {
	questions := map[int]*question{}
	for s, byFacet := range asks {
		n := 0
		for name, vals := range byFacet {
			if n+len(vals) > shardwire.MaxCounts {
				vals = vals[:max(0, shardwire.MaxCounts-n)] // the rest stay unknown: the facet says it is approximate
				byFacet[name] = vals
			}
			n += len(vals)
		}
		b, err := json.Marshal(byFacet)
		if err != nil {
			return err
		}
		q := asked(s)
		q.Set("per_page", "1") // the facets are the answer
		q.Del("cursor")
		q.Del("page")
		h := merging()
		h.Set(shardwire.CountHeader, string(b))
		questions[s] = &question{query: q, header: h, transcript: transcript}
	}
	answers, err := m.ask(r.Context(), r, func(s int) *question { return questions[s] })
	if err != nil {
		return err
	}
	for s, a := range answers {
		if a == nil {
			continue
		}
		if !a.ok() {
			return fmt.Errorf("shard %d answered %d to a count of facet values", s, a.status)
		}
		var p result
		if err := json.Unmarshal(a.body, &p); err != nil || p.Merge == nil {
			return fmt.Errorf("shard %d answered a count of facet values without its merge: %v", s, err)
		}
		for name, f := range facets {
			for v, n := range p.Merge.Facets[name].Counts {
				f.counted(s, v, n)
			}
		}
	}
	return nil
}

func mergeStats(out *result, name string, st facetStats) error {
	var cur facetStats
	if raw, ok := out.Facets[name]; ok {
		if err := json.Unmarshal(raw, &cur); err != nil {
			return err
		}
	}
	if st.Min != nil && (cur.Min == nil || *st.Min < *cur.Min) {
		cur.Min = st.Min
	}
	if st.Max != nil && (cur.Max == nil || *st.Max > *cur.Max) {
		cur.Max = st.Max
	}
	raw, err := json.Marshal(cur)
	out.Facets[name] = raw
	return err
}
