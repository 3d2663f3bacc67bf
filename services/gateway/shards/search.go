package shards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"marquee/pkg/httpx"
	"marquee/pkg/shardwire"
)

// result is a search answer, a shard's (with Merge) or the merged one.
type result struct {
	Total             uint64                     `json:"total"`
	Page              int                        `json:"page"`
	PerPage           int                        `json:"per_page"`
	Hits              []json.RawMessage          `json:"hits"`
	Facets            map[string]json.RawMessage `json:"facets"`
	FacetsApproximate bool                       `json:"facets_approximate,omitempty"`
	DidYouMean        string                     `json:"did_you_mean,omitempty"`
	NextCursor        string                     `json:"next_cursor,omitempty"`
	Index             indexStatus                `json:"index"`
	Merge             *shardwire.Result          `json:"merge,omitempty"`
}

type indexStatus struct {
	Version uint64 `json:"version"`
	Lag     uint64 `json:"lag"`
	Current bool   `json:"current"`
	Age     int64  `json:"age,omitempty"`
}

// search answers GET /v1/movies: every shard is asked for its hits up to the page's end (or, after a
// cursor, the page from its own position), and the page is the best of them by their positions.
func (m *Merger) search(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	positions := make([]string, len(m.shards))
	resumed := false
	if c := params["cursor"]; len(c) == 1 && c[0] != "" && !params.Has("page") {
		var err error
		if positions, err = m.cursors.open(without(params, "min_version"), c[0], len(m.shards)); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		resumed = true
	}
	asked := func(shard int) url.Values {
		if !resumed {
			return without(params) // as the client asked: a cursor beside a page, or empty, is the shards' to refuse
		}
		q := without(params, "page", "cursor")
		if positions[shard] != "" {
			q.Set("cursor", positions[shard])
		}
		return q
	}
	answers, pages, transcript, err := m.searchShards(r, asked)
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	if relayFailure(w, answers) {
		return
	}
	page := 1
	if n, err := strconv.Atoi(params.Get("page")); err == nil && n > 0 {
		page = n
	}
	out := &result{Page: page, PerPage: pages[0].PerPage / page, Facets: map[string]json.RawMessage{}, Index: indexStatus{Current: true}}
	next := m.mergeHits(pages, positions, (page-1)*out.PerPage, out)
	if next != nil {
		out.NextCursor = m.cursors.sign(without(params, "min_version", "page"), next)
	}
	for i, p := range pages {
		out.Total += p.Total
		out.FacetsApproximate = out.FacetsApproximate || p.FacetsApproximate
		if out.DidYouMean == "" {
			out.DidYouMean = p.DidYouMean // every shard's is the whole catalog's
		}
		if i == 0 || p.Index.Version < out.Index.Version {
			out.Index.Version = p.Index.Version // every shard holds at least this much of the stream
		}
		out.Index.Lag += p.Index.Lag
		out.Index.Current = out.Index.Current && p.Index.Current
		out.Index.Age = max(out.Index.Age, p.Index.Age)
	}
	approximate, err := m.mergeFacets(r, pages, asked, transcript, out)
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	out.FacetsApproximate = out.FacetsApproximate || approximate
	m.writeMerged(w, r, answers, out)
}

// searchShards asks every shard for its part of a search: one shard first, each in turn, and then the
// others with the transcript of what it asked its peers, so that they need not ask again. A failure's
// answer is the first shard's alone. It returns the answers, the pages they hold, and the transcript.
func (m *Merger) searchShards(r *http.Request, asked func(int) url.Values) ([]*answer, []*result, []byte, error) {
	first := int(m.turn.Add(1) % uint64(len(m.shards)))
	answers, err := m.ask(r.Context(), r, func(shard int) *question {
		if shard != first {
			return nil
		}
		return &question{query: asked(shard), header: merging()}
	})
	if err != nil || !answers[first].ok() {
		return answers, nil, nil, err
	}
	pages := make([]*result, len(m.shards))
	if pages[first], err = pageOf(first, answers[first]); err != nil {
		return nil, nil, nil, err
	}
	transcript := []byte(pages[first].Merge.Transcript)
	if len(transcript) == 0 {
		transcript = nil
	}
	rest, err := m.ask(r.Context(), r, func(shard int) *question {
		if shard == first {
			return nil
		}
		return &question{query: asked(shard), header: merging(), transcript: transcript}
	})
	if err != nil {
		return nil, nil, nil, err
	}
	rest[first] = answers[first]
	if slices.ContainsFunc(rest, func(a *answer) bool { return !a.ok() }) {
		return rest, nil, nil, nil
	}
	for i, a := range rest {
		if i != first {
			if pages[i], err = pageOf(i, a); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return rest, pages, transcript, nil
}

// pageOf reads shard i's answer to a search.
func pageOf(i int, a *answer) (*result, error) {
	p := &result{}
	if err := json.Unmarshal(a.body, p); err != nil || p.Merge == nil || len(p.Merge.Hits) != len(p.Hits) {
		return nil, fmt.Errorf("shard %d answered a search without its merge: %v", i, err)
	}
	return p, nil
}

// without is a copy of params without the names.
func without(params url.Values, names ...string) url.Values {
	q := url.Values{}
	for k, v := range params {
		if !slices.Contains(names, k) {
			q[k] = v
		}
	}
	return q
}

// mergeHits fills out's hits: the shards' hits in the order of their positions, skip of them left out,
// and returns every shard's position after the page if more hits follow it (nil: none follow).
func (m *Merger) mergeHits(pages []*result, positions []string, skip int, out *result) []string {
	type ref struct {
		shard, i int
		key      []byte
	}
	var all []ref
	for s, p := range pages {
		for i, h := range p.Merge.Hits {
			all = append(all, ref{s, i, h.Key})
		}
	}
	slices.SortFunc(all, func(a, b ref) int { return bytes.Compare(a.key, b.key) })
	end := min(len(all), skip+out.PerPage)
	last := make([]int, len(pages)) // each shard's last hit shown so far: -1 for none
	for i := range last {
		last[i] = -1
	}
	out.Hits = []json.RawMessage{}
	for k, h := range all[:end] {
		if k >= skip {
			out.Hits = append(out.Hits, pages[h.shard].Hits[h.i])
		}
		last[h.shard] = h.i
	}
	more := end < len(all)
	next := slices.Clone(positions)
	for s, p := range pages {
		if last[s] >= 0 {
			next[s] = p.Merge.Hits[last[s]].Cursor
		}
		if last[s] == len(p.Hits)-1 && p.NextCursor != "" {
			more = true // the shard's page ended with the merged page: its next one follows
		}
	}
	if !more {
		return nil
	}
	return next
}

// writeMerged writes the merged answer with the headers the shards agree on: the cache policy (every
// shard's is the same), the oldest Age, whether every shard holds the versions asked for, and an ETag of
// every shard's.
func (m *Merger) writeMerged(w http.ResponseWriter, r *http.Request, answers []*answer, out *result) {
	h := w.Header()
	if cc := answers[0].header.Get("Cache-Control"); cc != "" {
		h.Set("Cache-Control", cc)
	}
	var age int64
	consistent, asked := true, false
	tag := fnv.New64a()
	tagged := true
	for _, a := range answers {
		if n, err := strconv.ParseInt(a.header.Get("Age"), 10, 64); err == nil {
			age = max(age, n)
		}
		if c := a.header.Get(httpx.ConsistentHeader); c != "" {
			asked, consistent = true, consistent && c == "true"
		}
		etag := a.header.Get("ETag")
		tagged = tagged && etag != ""
		tag.Write([]byte(etag))
		tag.Write([]byte{0})
	}
	if age > 0 {
		h.Set("Age", strconv.FormatInt(age, 10))
	}
	if asked {
		h.Set(httpx.ConsistentHeader, strconv.FormatBool(consistent))
	}
	if tagged {
		etag := `W/"m-` + strconv.FormatUint(tag.Sum64(), 36) + `"`
		h.Set("ETag", etag)
		if strings.Contains(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
