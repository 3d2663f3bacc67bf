package shards

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"marquee/pkg/events"
	"marquee/pkg/shardwire"
)

// fakeShard answers the merge's questions as a search shard does, from movies it holds in order: each a
// key and, for one value facet, a value.
type fakeShard struct {
	partition, partitions int
	movies                []fakeMovie // in key order
	depth                 int         // the facet's values given, before More
	ready                 int         // the status of /readyz
	counted               int         // the count questions asked
	transcribes           bool        // a search asked with GET answers a transcript
	older                 bool        // knows no shardwire.SearchRoute, as a shard of an older version
	status                int         // the status of a search's answer; 0: 200
	asked                 []string    // each search: "GET", or "POST " and its transcript
}

type fakeMovie struct {
	id    int
	key   []byte
	value string
}

func (s *fakeShard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/readyz":
		w.WriteHeader(s.ready)
		_, _ = w.Write([]byte(`{"status":"ready","current":true}`))
		return
	case "/v1/index/versions":
		fmt.Fprintf(w, `{"versions":[],"partition":%d,"partitions":%d}`, s.partition, s.partitions)
		return
	case "/v1/movies":
		s.asked = append(s.asked, "GET")
	case shardwire.SearchRoute:
		if s.older {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		s.asked = append(s.asked, r.Method+" "+string(body))
	default:
		http.NotFound(w, r)
		return
	}
	if r.Header.Get(shardwire.Header) != "1" {
		http.Error(w, "not a merge", http.StatusTeapot)
		return
	}
	if s.status != 0 {
		http.Error(w, "refused", s.status)
		return
	}
	page, _ := strconv.Atoi(cmp.Or(q.Get("page"), "1"))
	perPage, _ := strconv.Atoi(cmp.Or(q.Get("per_page"), "20"))
	from, _ := strconv.Atoi(q.Get("cursor"))
	window := page * perPage
	res := result{Total: uint64(len(s.movies)), Page: 1, PerPage: window, Facets: map[string]json.RawMessage{}, Merge: &shardwire.Result{}}
	for i := from; i < len(s.movies) && len(res.Hits) < window; i++ {
		m := s.movies[i]
		res.Hits = append(res.Hits, json.RawMessage(fmt.Sprintf(`{"id":%d}`, m.id)))
		res.Merge.Hits = append(res.Merge.Hits, shardwire.Hit{Key: m.key, Cursor: strconv.Itoa(i + 1)})
		if i+1 < len(s.movies) && len(res.Hits) == window {
			res.NextCursor = "more"
		}
	}
	counts := s.counts()
	vals := make([]facetValue, 0, len(counts))
	for v, n := range counts {
		vals = append(vals, facetValue{Value: v, Count: n})
	}
	slices.SortFunc(vals, func(a, b facetValue) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
	info := shardwire.Facet{Size: 3, Scale: 1}
	if len(vals) > s.depth {
		vals, info.More = vals[:s.depth], true
	}
	if asked := r.Header.Get(shardwire.CountHeader); asked != "" {
		s.counted++
		var byFacet map[string][]string
		_ = json.Unmarshal([]byte(asked), &byFacet)
		info.Counts = map[string]int{}
		for _, v := range byFacet["directors"] {
			info.Counts[v] = counts[v]
		}
	}
	res.Facets["directors"], _ = json.Marshal(vals)
	res.Merge.Facets = map[string]shardwire.Facet{"directors": info}
	if s.transcribes && r.Method == http.MethodGet {
		res.Merge.Transcript = json.RawMessage(fmt.Sprintf(`{"of":%d}`, s.partition))
	}
	_ = json.NewEncoder(w).Encode(res)
}

func (s *fakeShard) counts() map[string]int {
	counts := map[string]int{}
	for _, m := range s.movies {
		counts[m.value]++
	}
	return counts
}

// fakeCatalog spreads movies over three fake shards by the stream's partitions, with random keys and a
// facet whose values are skewed, and returns the shards and every movie in key order.
func fakeCatalog(seed uint64, movies, depth int) ([]*fakeShard, []fakeMovie) {
	rng := rand.New(rand.NewPCG(seed, 1))
	stream := events.Stream{Partitions: 3}
	shards := make([]*fakeShard, 3)
	for i := range shards {
		shards[i] = &fakeShard{partition: i, partitions: 3, depth: depth, ready: http.StatusOK}
	}
	var all []fakeMovie
	for id := 1; id <= movies; id++ {
		key := make([]byte, 1+rng.IntN(4))
		for i := range key {
			key[i] = byte(rng.IntN(4)) // short keys from few bytes: prefixes and ties of leading bytes
		}
		key = append(key, []byte(strconv.Itoa(id))...) // unique, as a movie's id ends every key
		m := fakeMovie{id: id, key: key, value: "director " + strconv.Itoa(int(rng.ExpFloat64()*4))}
		all = append(all, m)
		p := stream.Partition(int64(id))
		shards[p].movies = append(shards[p].movies, m)
	}
	byKey := func(a, b fakeMovie) int { return slices.Compare(a.key, b.key) }
	slices.SortFunc(all, byKey)
	for _, s := range shards {
		slices.SortFunc(s.movies, byKey)
	}
	return shards, all
}

func newTestMerger(shards []*fakeShard, secret string) *Merger {
	hs := make([]http.Handler, len(shards))
	for i, s := range shards {
		hs[i] = s
	}
	return New(slog.New(slog.DiscardHandler), hs, secret)
}

func get(h http.Handler, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func decode(t *testing.T, w *httptest.ResponseRecorder) result {
	t.Helper()
	var res result
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &res) != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	return res
}

func ids(res result) []int {
	out := make([]int, len(res.Hits))
	for i, h := range res.Hits {
		var m struct{ ID int }
		_ = json.Unmarshal(h, &m)
		out[i] = m.ID
	}
	return out
}

// The merged pages, by page number and by cursor, are the movies of every shard in the order of their
// keys; the total is every shard's.
func TestPagesMergeInKeyOrder(t *testing.T) {
	shards, all := fakeCatalog(1, 200, 1000)
	m := newTestMerger(shards, "")
	want := make([]int, len(all))
	for i, mv := range all {
		want[i] = mv.id
	}
	for page := 1; page <= 8; page++ {
		res := decode(t, get(m, fmt.Sprintf("/v1/movies?per_page=7&page=%d", page)))
		if res.Total != 200 || res.Page != page || res.PerPage != 7 || !slices.Equal(ids(res), want[(page-1)*7:page*7]) {
			t.Fatalf("page %d: total %d, page %d of %d: %v, want %v", page, res.Total, res.Page, res.PerPage, ids(res), want[(page-1)*7:page*7])
		}
	}
	var walked []int
	target := "/v1/movies?per_page=9&q=x"
	for pages := 0; ; pages++ {
		res := decode(t, get(m, target))
		walked = append(walked, ids(res)...)
		if res.NextCursor == "" {
			break
		}
		if pages > 30 {
			t.Fatal("the cursors do not end")
		}
		target = "/v1/movies?per_page=9&q=x&cursor=" + url.QueryEscape(res.NextCursor)
	}
	if !slices.Equal(walked, want) {
		t.Fatalf("walked by cursor:\n%v\nwant\n%v", walked, want)
	}
}

// A merged cursor continues only its own search, made by this deployment for as many shards.
func TestMergedCursorIsBoundToItsSearch(t *testing.T) {
	shards, _ := fakeCatalog(2, 50, 1000)
	m := newTestMerger(shards, "a secret the deployment shares, 32 bytes or more")
	cur := decode(t, get(m, "/v1/movies?q=x&per_page=5")).NextCursor
	if w := get(m, "/v1/movies?q=x&per_page=3&cursor="+url.QueryEscape(cur)); w.Code != http.StatusOK {
		t.Fatalf("its own search, another page size: %d %s", w.Code, w.Body)
	}
	other := New(slog.New(slog.DiscardHandler), []http.Handler{shards[0], shards[1]}, "a secret the deployment shares, 32 bytes or more")
	for name, target := range map[string]string{
		"edited":         "/v1/movies?q=x&cursor=" + url.QueryEscape("W10"+cur[3:]),
		"another search": "/v1/movies?q=y&cursor=" + url.QueryEscape(cur),
		"unsigned":       "/v1/movies?q=x&cursor=" + url.QueryEscape(cur[:len(cur)-44]),
	} {
		if w := get(m, target); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if w := get(other, "/v1/movies?q=x&cursor="+url.QueryEscape(cur)); w.Code != http.StatusBadRequest {
		t.Errorf("a cursor of three shards to two: %d %s", w.Code, w.Body)
	}
}

// A facet cut short on the shards is the sum of their whole counts: values a shard left out are asked
// for where they decide the facet. They are asked with the first shard's transcript, and as before of a
// shard of an older version that knows none.
func TestFacetsSumWholeCounts(t *testing.T) {
	asked, exact := 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		shards, all := fakeCatalog(seed, 300, 4)
		shards[1].transcribes = true // a new merger's first search goes to shard 1 first
		shards[seed%2*2].older = seed%4 < 2
		res := decode(t, get(newTestMerger(shards, ""), "/v1/movies?facets=directors"))
		counts := map[string]int{}
		for _, mv := range all {
			counts[mv.value]++
		}
		want := make([]facetValue, 0, len(counts))
		for v, n := range counts {
			want = append(want, facetValue{Value: v, Count: n})
		}
		slices.SortFunc(want, func(a, b facetValue) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value)) })
		var got []facetValue
		_ = json.Unmarshal(res.Facets["directors"], &got)
		if !res.FacetsApproximate {
			exact++
			if !slices.Equal(got, want[:3]) {
				t.Fatalf("seed %d: %v, want %v", seed, got, want[:3])
			}
		}
		for _, s := range shards {
			asked += s.counted
		}
	}
	if asked == 0 || exact < 30 {
		t.Fatalf("%d counts asked, %d of 40 facets exact: the test does not cut facets short, or the merge cannot tell", asked, exact)
	}
	t.Logf("%d of 40 facets exact, %d counts asked", exact, asked)
}

// A facet is exact when no value a shard left out could be among its values, and approximate otherwise.
func TestFacetExactOnlyWhenProvable(t *testing.T) {
	cut := shardwire.Facet{Size: 2, Scale: 1, More: true}
	f := newValueFacet(2)
	f.add(0, []facetValue{{Value: "a", Count: 9}, {Value: "b", Count: 8}, {Value: "c", Count: 1}}, cut, true)
	f.add(1, []facetValue{{Value: "a", Count: 9}, {Value: "b", Count: 8}, {Value: "d", Count: 1}}, cut, true)
	if vals, exact := f.values(); !exact || len(f.unsure()) > 0 || vals[0] != (facetValue{Value: "a", Count: 18}) || vals[1] != (facetValue{Value: "b", Count: 16}) {
		t.Errorf("a 18 and b 16, a value left out at most 1+1: %v, exact %v, unsure %v", vals, exact, f.unsure())
	}
	f = newValueFacet(2)
	f.add(0, []facetValue{{Value: "a", Count: 5}, {Value: "b", Count: 1}}, cut, true)
	f.add(1, []facetValue{{Value: "a", Count: 5}, {Value: "c", Count: 1}}, cut, true)
	if _, exact := f.values(); exact || !slices.Equal(f.unsure(), []string{"b", "c"}) {
		t.Errorf("b and c each left out by a shard, beside a value neither gave: exact %v, unsure %v", exact, f.unsure())
	}
	for s, v := range map[int]string{1: "b", 0: "c"} {
		f.counted(s, v, 0)
	}
	if _, exact := f.values(); exact {
		t.Error("b and c counted, but a value neither shard gave may count 2, as many as b")
	}
}

// Shards that counted on samples of different scales add up scaled; a shard that does not say how it
// counted leaves the facet approximate, never a crash.
func TestFacetScalesAndBrokenAnswers(t *testing.T) {
	f := newValueFacet(2)
	f.add(0, []facetValue{{Value: "a", Count: 400}}, shardwire.Facet{Size: 2, Scale: 1}, true)
	f.add(1, []facetValue{{Value: "a", Count: 50}}, shardwire.Facet{Size: 2, Scale: 8}, true)
	if vals, _ := f.values(); vals[0].Count != 800 {
		t.Errorf("400 exact and 50 sampled at 8: %v, want 800", vals)
	}
	f = newValueFacet(2)
	f.add(0, []facetValue{{Value: "a", Count: 4}, {Value: "b", Count: 3}}, shardwire.Facet{}, false)
	f.add(1, []facetValue{{Value: "a", Count: 4}}, shardwire.Facet{Size: 0}, true)
	if vals, exact := f.values(); exact || len(vals) != 2 || vals[0].Count != 8 {
		t.Errorf("shards that did not say how they counted: %v, exact %v", vals, exact)
	}
}

// A movie is read from its partition's shard; readiness is every shard's, each holding its partition.
func TestRoutingAndReadiness(t *testing.T) {
	shards, _ := fakeCatalog(3, 10, 1000)
	hs := make([]http.Handler, len(shards))
	for i := range shards {
		hs[i] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/readyz" || r.URL.Path == "/v1/index/versions" {
				shards[i].ServeHTTP(w, r)
				return
			}
			fmt.Fprintf(w, `{"shard":%d}`, i)
		})
	}
	m := New(slog.New(slog.DiscardHandler), hs, "")
	stream := events.Stream{Partitions: 3}
	for id := int64(1); id < 60; id++ {
		if w := get(m, "/v1/movies/"+strconv.FormatInt(id, 10)); w.Body.String() != fmt.Sprintf(`{"shard":%d}`, stream.Partition(id)) {
			t.Fatalf("movie %d read from %s, want shard %d", id, w.Body, stream.Partition(id))
		}
	}
	if w := get(m, "/readyz"); w.Code != http.StatusOK {
		t.Fatalf("ready shards: %d %s", w.Code, w.Body)
	}
	shards[0].partition, shards[1].partition = 1, 0 // search_shards out of order
	if w := get(m, "/readyz"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("shards out of order: %d %s", w.Code, w.Body)
	}
	shards[0].partition, shards[1].partition = 0, 1
	shards[2].ready = http.StatusServiceUnavailable
	if w := get(m, "/readyz"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("a shard not ready: %d %s", w.Code, w.Body)
	}
}

// A suggestion is asked of one shard, each in turn, whose answer (the whole catalog's) goes to the client as
// it is, its failure too; the shard is asked as the client asked, without the merge header.
func TestSuggestionAskedOfOneShardInTurn(t *testing.T) {
	asked := make([]int, 3)
	hs := make([]http.Handler, len(asked))
	for i := range hs {
		hs[i] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked[i]++
			if r.Header.Get(shardwire.Header) != "" || r.URL.Query().Get("q") != "god" {
				t.Errorf("shard %d asked %s with merge header %q", i, r.URL, r.Header.Get(shardwire.Header))
			}
			if i == 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			fmt.Fprintf(w, `{"suggestions":[{"text":"shard %d","kind":"title"}]}`, i)
		})
	}
	m := New(slog.New(slog.DiscardHandler), hs, "")
	for n := range 6 {
		before := slices.Clone(asked)
		w := get(m, "/v1/suggest?q=god")
		answered := -1
		for i := range asked {
			if asked[i] != before[i] {
				answered = i
			}
		}
		if sum(asked) != n+1 || slices.Max(asked)-slices.Min(asked) > 1 {
			t.Fatalf("after %d suggestions, the shards were asked %v", n+1, asked)
		}
		want := fmt.Sprintf(`{"suggestions":[{"text":"shard %d","kind":"title"}]}`, answered)
		if w.Body.String() != want || (answered == 2) != (w.Code == http.StatusServiceUnavailable) {
			t.Errorf("suggestion %d: %d %s, want shard %d's answer", n+1, w.Code, w.Body, answered)
		}
	}
	if !slices.Equal(asked, []int{2, 2, 2}) {
		t.Errorf("six suggestions asked the shards %v times, want twice each", asked)
	}
}

func sum(ns []int) (n int) {
	for _, k := range ns {
		n += k
	}
	return n
}

// A search goes to one shard first, each in turn; the others are asked the same search with its
// transcript, so that they need not ask their peers again. Without a transcript, or of an older version
// that knows none, they are asked as before; a first shard's failure is the answer, and no other shard is
// asked.
func TestOneShardSearchesFirstAndHandsOnItsTranscript(t *testing.T) {
	shards, all := fakeCatalog(3, 60, 1000)
	for _, s := range shards {
		s.transcribes = true
	}
	m := newTestMerger(shards, "")
	for range 3 {
		if res := decode(t, get(m, "/v1/movies?q=x&per_page=5")); res.Total != uint64(len(all)) {
			t.Fatalf("total %d, want %d", res.Total, len(all))
		}
	}
	for i, s := range shards {
		var got []string
		for k := range shards {
			if k != i {
				got = append(got, fmt.Sprintf(`POST {"of":%d}`, k))
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(s.asked)), slices.Sorted(slices.Values(append(got, "GET")))) {
			t.Errorf("shard %d was asked %q: once first, then with each other shard's transcript", i, s.asked)
		}
		s.asked, s.transcribes = nil, false
	}
	decode(t, get(m, "/v1/movies?q=x&per_page=5"))
	for i, s := range shards {
		if !slices.Equal(s.asked, []string{"GET"}) {
			t.Errorf("shard %d was asked %q without a transcript to hand on", i, s.asked)
		}
		s.asked = nil
	}
	// A shard of an older version, which knows no transcripts, is asked as before (in a rolling upgrade).
	shards[0].transcribes, shards[1].older = true, true
	for range 3 {
		if res := decode(t, get(m, "/v1/movies?q=x&per_page=5")); res.Total != uint64(len(all)) {
			t.Fatalf("with a shard of an older version: total %d, want %d", res.Total, len(all))
		}
	}
	gets := 0
	for _, a := range shards[1].asked {
		if a == "GET" {
			gets++
		}
	}
	if gets != 3 {
		t.Errorf("the older shard was asked %q: each search once by GET", shards[1].asked)
	}
	for _, s := range shards {
		s.asked, s.transcribes, s.older = nil, false, false
	}
	for _, s := range shards {
		s.status = http.StatusBadRequest
	}
	if w := get(m, "/v1/movies?q=x"); w.Code != http.StatusBadRequest {
		t.Errorf("every shard refusing: %d %s", w.Code, w.Body)
	}
	asked := 0
	for _, s := range shards {
		asked += len(s.asked)
	}
	if asked != 1 {
		t.Errorf("%d shards asked after the first refused", asked)
	}
}

// A rebuild goes to every shard, and its state is every shard's: the furthest from done, the changes and
// movies added up, the events left added up, each shard's own beside it; a shard's failure to start one is
// the answer.
func TestRebuildStateOfEveryShard(t *testing.T) {
	states := []string{
		`{"state":"done","started_at":"2026-12-07T10:00:00Z","finished_at":"2026-12-07T10:05:00Z","checkpoint":900,"target":900,"applied":300,"movies":300,"duration_ms":300000}`,
		`{"state":"building","started_at":"2026-12-07T09:59:00Z","checkpoint":500,"target":900,"applied":200,"movies":200,"duration_ms":360000}`,
		`{"state":"done","started_at":"2026-12-07T10:01:00Z","finished_at":"2026-12-07T10:06:00Z","checkpoint":880,"target":880,"applied":290,"movies":290,"duration_ms":300000}`,
	}
	refuse := -1
	hs := make([]http.Handler, len(states))
	for i := range hs {
		hs[i] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/index/rebuild" {
				http.NotFound(w, r)
				return
			}
			if i == refuse {
				http.Error(w, `{"title":"Conflict"}`, http.StatusConflict)
				return
			}
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusAccepted)
			}
			_, _ = w.Write([]byte(states[i]))
		})
	}
	m := New(slog.New(slog.DiscardHandler), hs, "")
	ask := func(method string) (int, rebuildStatus) {
		w := httptest.NewRecorder()
		m.ServeHTTP(w, httptest.NewRequest(method, "/v1/index/rebuild", nil))
		var st rebuildStatus
		if w.Code < 300 {
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatalf("%s: %v: %s", method, err, w.Body)
			}
		}
		return w.Code, st
	}
	code, st := ask(http.MethodGet)
	if code != http.StatusOK || st.State != "building" || st.FinishedAt != nil || st.Applied != 790 || st.Movies != 790 ||
		st.Target != 900 || st.Checkpoint != 500 || len(st.Shards) != 3 || st.StartedAt == nil || st.StartedAt.Hour() != 9 {
		t.Errorf("one shard building: %d %+v", code, st)
	}
	states[1] = `{"state":"failed","started_at":"2026-12-07T09:59:00Z","finished_at":"2026-12-07T10:02:00Z","checkpoint":500,"target":900,"applied":200,"movies":200,"error":"disk full","duration_ms":180000}`
	if _, st := ask(http.MethodGet); st.State != "failed" || st.Error != "shard 1: disk full" || st.FinishedAt == nil || st.FinishedAt.Minute() != 6 {
		t.Errorf("one shard failed: %+v", st)
	}
	if code, st := ask(http.MethodPost); code != http.StatusAccepted || len(st.Shards) != 3 {
		t.Errorf("a rebuild started on every shard: %d %+v", code, st)
	}
	refuse = 2
	if code, _ := ask(http.MethodPost); code != http.StatusConflict {
		t.Errorf("a shard that refuses the rebuild: %d, want its 409", code)
	}
	refuse, states[0] = -1, `{"state":"rebuilt"}`
	if code, _ := ask(http.MethodGet); code != http.StatusServiceUnavailable {
		t.Errorf("a shard's state that is not one: %d, want 503", code)
	}
}
