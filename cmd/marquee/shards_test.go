package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/freeport"
	"marquee/pkg/httpx"
	"marquee/pkg/ingest"
	"marquee/pkg/natsx"
	"marquee/pkg/natsx/natsembed"
	"marquee/pkg/shardwire"
	"marquee/pkg/testenv"
)

// Three search processes, each of one partition of a stream partitioned three ways, behind a gateway that
// merges their answers, answer as one search process of every movie behind another gateway: for the
// judged queries and generated ones (texts, typos, prefixes, filters, facets, sorts), the same totals,
// pages (ids and order, page 2 too), facet counts, did-you-mean, and pages walked by cursor; a movie read
// by id comes from its shard. The merge's own headers are the gateway's alone.
func TestShardsBehindTheGateway(t *testing.T) {
	movies, texts := shardTestCatalog(t)
	ns, err := natsembed.Run(natsembed.Options{StoreDir: t.TempDir(), Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	stream := events.Stream{Name: "TSHARDGW", Prefix: "tshardgw", Partitions: 3}
	publishMovies(t, ns.ClientURL(), stream, movies)

	env := func(partition int, peers []string) map[string]string {
		return map[string]string{
			"MARQUEE_NATS_URL": ns.ClientURL(), "MARQUEE_STREAM": stream.Name, "MARQUEE_SUBJECT_PREFIX": stream.Prefix,
			"MARQUEE_STREAM_PARTITIONS": "3", "MARQUEE_PARTITION": strconv.Itoa(partition), "MARQUEE_PEERS": strings.Join(peers, ","),
			"MARQUEE_INTERNAL_TOKEN": internalToken,
		}
	}
	addrs := make([]string, stream.Partitions)
	urls := make([]string, stream.Partitions)
	for p := range addrs {
		addrs[p] = freeport.Addr(t)
		urls[p] = "http://" + addrs[p]
	}
	for p, addr := range addrs {
		startProcess(t, env(p, slices.Delete(slices.Clone(urls), p, p+1)), "search", "--addr", addr, "--data-dir", t.TempDir())
	}
	wholeAddr := freeport.Addr(t)
	startProcess(t, env(events.AllPartitions, nil), "search", "--addr", wholeAddr, "--data-dir", t.TempDir())

	gatewayEnv := map[string]string{"MARQUEE_RATE_LIMIT": "off", "MARQUEE_INTERNAL_TOKEN": internalToken}
	nowhere := "http://" + freeport.Addr(t) // reads never reach the catalog
	sharded := startCommand(t, gatewayEnv, "gateway", "--addr", "127.0.0.1:0", "--catalog-url", nowhere, "--search-shards", strings.Join(urls, ","))
	whole := startCommand(t, gatewayEnv, "gateway", "--addr", "127.0.0.1:0", "--catalog-url", nowhere, "--search-url", "http://"+wholeAddr)
	shards := &client{t: t, base: addrOf(t, sharded.stderr, "listening")}
	one := &client{t: t, base: addrOf(t, whole.stderr, "listening")}
	for _, c := range []*client{shards, one} {
		waitFor(t, "every movie indexed", 3*time.Minute, func() error {
			if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
				return fmt.Errorf("readyz %d: %s", r.status, r.body)
			}
			var res mergedPage
			if r := c.do("GET", "/v1/movies?per_page=1", nil, nil); r.status != 200 || json.Unmarshal(r.body, &res) != nil || res.Total != len(movies) {
				return fmt.Errorf("%d movies of %d: %d %.200s", res.Total, len(movies), r.status, r.body)
			}
			return nil
		})
	}

	searches := shardTestSearches(movies, texts)
	compared, cursored, approximate := 0, 0, 0
	for _, s := range searches {
		want, got := getPage(t, one, s), getPage(t, shards, s)
		if want.status != got.status {
			t.Errorf("%s: %d from the shards, %d from one index: %.300s", s, got.status, want.status, got.body)
			continue
		}
		if want.status != 200 {
			continue
		}
		compared++
		if want.FacetsApproximate {
			approximate++
		}
		if msg := samePage(want, got); msg != "" {
			t.Errorf("%s: %s", s, msg)
			continue
		}
		// Pages walked by cursor: the same movies in the same order.
		if want.NextCursor == "" || cursored >= 150 {
			continue
		}
		cursored++
		wantWalk, gotWalk := walk(t, one, s, want), walk(t, shards, s, got)
		if !reflect.DeepEqual(wantWalk, gotWalk) {
			t.Errorf("%s: pages by cursor: %v from the shards, %v from one index", s, gotWalk, wantWalk)
		}
	}
	if compared < len(searches)*9/10 {
		t.Errorf("only %d of %d searches answered", compared, len(searches))
	}
	t.Logf("%d searches compared (%d with approximate facets), %d walked by cursor", compared, approximate, cursored)

	// A movie is read from its shard.
	for _, m := range movies[:min(len(movies), 30)] {
		path := "/v1/movies/" + strconv.FormatInt(m.ID, 10)
		if w, g := one.do("GET", path, nil, nil), shards.do("GET", path, nil, nil); w.status != 200 || g.status != w.status || string(g.body) != string(w.body) {
			t.Errorf("%s: %d %.200s from the shards, %d %.200s from one index", path, g.status, g.body, w.status, w.body)
		}
	}
	// Suggestions are one index's: the same titles and names, in the same order, with the same roles, for
	// whole titles, titles being typed and names being typed.
	suggested := 0
	for _, m := range movies[:min(len(movies), 40)] {
		title := strings.ToLower(m.Title)
		typed := []string{title, title[:min(len(title), 4)]}
		if len(m.Cast) > 0 {
			name := strings.ToLower(m.Cast[0])
			typed = append(typed, name[:min(len(name), 6)])
		}
		for _, text := range typed {
			if !utf8.ValidString(text) {
				continue
			}
			path := "/v1/suggest?limit=10&q=" + url.QueryEscape(text)
			var w, g struct{ Suggestions []map[string]any }
			one.must(200, "GET", path, nil, nil).json(t, &w)
			shards.must(200, "GET", path, nil, nil).json(t, &g)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: %v from the shards, %v from one index", path, g.Suggestions, w.Suggestions)
			}
			if len(w.Suggestions) > 0 {
				suggested++
			}
		}
	}
	if suggested < 40 {
		t.Errorf("only %d of the texts typed were suggested anything", suggested)
	}
	// A shard's part of a merge records what it asked its peers; another shard given that transcript
	// answers the same search as it does when it asks them, asking none. Only the deployment may.
	internal := map[string]string{httpx.InternalTokenHeader: internalToken, shardwire.Header: "1"}
	for _, s := range []string{"q=love+story&facets=genres,decade", "q=teh+godfathr", "q=sta&per_page=20", "q=war&genre=Drama&sort=-year"} {
		var lead, live, replayed struct {
			Total  int
			Hits   []mergedHit
			Facets map[string]json.RawMessage
			Merge  shardwire.Result
		}
		(&client{t: t, base: urls[0]}).must(200, "GET", "/v1/movies?"+s, nil, internal).json(t, &lead)
		if len(lead.Merge.Transcript) == 0 || lead.Merge.Asked == 0 {
			t.Fatalf("%s: shard 0 asked %d questions, transcript of %d bytes", s, lead.Merge.Asked, len(lead.Merge.Transcript))
		}
		other := &client{t: t, base: urls[1]}
		other.must(200, "GET", "/v1/movies?"+s, nil, internal).json(t, &live)
		other.must(200, "POST", shardwire.SearchRoute+"?"+s, lead.Merge.Transcript, internal).json(t, &replayed)
		if replayed.Merge.Asked != 0 || len(replayed.Merge.Transcript) != 0 || live.Merge.Asked == 0 {
			t.Errorf("%s: shard 1 asked %d questions given the transcript (%d bytes back), %d without", s, replayed.Merge.Asked, len(replayed.Merge.Transcript), live.Merge.Asked)
		}
		if live.Total != replayed.Total || !reflect.DeepEqual(live.Hits, replayed.Hits) || !reflect.DeepEqual(live.Facets, replayed.Facets) ||
			!reflect.DeepEqual(live.Merge.Hits, replayed.Merge.Hits) {
			t.Errorf("%s: shard 1 answered %d %v given the transcript, %d %v asking its peers", s, replayed.Total, replayed.Hits, live.Total, live.Hits)
		}
	}
	shard := &client{t: t, base: urls[1]}
	if r := shard.do("POST", shardwire.SearchRoute+"?q=love", json.RawMessage(`{"questions":[]}`), map[string]string{shardwire.Header: "1"}); r.status != 401 {
		t.Errorf("a search with a transcript, without the internal token: %d %.200s", r.status, r.body)
	}
	for _, bad := range []string{`[1,2]`, `{"questions":[{"question":"x","answers":[{"n":1},{"n":2}]}]}`} {
		if r := shard.do("POST", shardwire.SearchRoute+"?q=love", json.RawMessage(bad), internal); r.status != 400 {
			t.Errorf("a search with the transcript %s: %d %.200s", bad, r.status, r.body)
		}
	}

	// A client cannot ask a shard for its part of a merge through the gateway (its pages of any size).
	hostile := map[string]string{shardwire.Header: "1", shardwire.CountHeader: `{"genres":["Drama"]}`}
	for _, c := range []*client{shards, one} {
		if r := c.do("GET", "/v1/movies?per_page=1000", nil, hostile); r.status != 400 {
			t.Errorf("per_page=1000 with the merge header: %d %.200s", r.status, r.body)
		}
		r := c.do("GET", "/v1/movies?q=love&per_page=3", nil, hostile)
		if merged := strings.Contains(string(r.body), `"merge"`); r.status != 200 || merged {
			t.Errorf("a search with the merge header: %d, merge answered: %v", r.status, merged)
		}
	}
	// A page past the merge's window is refused (each shard would answer every hit before it); the cursor
	// pages as deep as one index's.
	if r := shards.do("GET", "/v1/movies?q=love&page=11&per_page=100", nil, nil); r.status != 400 || !strings.Contains(string(r.body), "cursor") {
		t.Errorf("page 11 of 100 on the shards: %d %.300s", r.status, r.body)
	}
	// A merged cursor edited, or made for another search, is refused.
	first := getPage(t, shards, "q=love&per_page=2")
	for _, bad := range []string{"q=love&per_page=2&cursor=" + url.QueryEscape(first.NextCursor[:len(first.NextCursor)-2]+"xx"),
		"q=war&per_page=2&cursor=" + url.QueryEscape(first.NextCursor), "q=love&page=2&cursor=" + url.QueryEscape(first.NextCursor)} {
		if r := shards.do("GET", "/v1/movies?"+bad, nil, nil); r.status != 400 || !strings.Contains(string(r.body), "cursor") {
			t.Errorf("%.80s: %d %.200s", bad, r.status, r.body)
		}
	}
}

// mergedPage is a search answer as a client reads it.
type mergedPage struct {
	status            int
	body              string
	Total             int                        `json:"total"`
	Hits              []mergedHit                `json:"hits"`
	Facets            map[string]json.RawMessage `json:"facets"`
	FacetsApproximate bool                       `json:"facets_approximate"`
	DidYouMean        string                     `json:"did_you_mean"`
	NextCursor        string                     `json:"next_cursor"`
}

type mergedHit struct {
	ID             int64    `json:"id"`
	Title          string   `json:"title"`
	Year           *int     `json:"year"`
	WeightedRating *float64 `json:"weighted_rating"`
}

func getPage(t *testing.T, c *client, query string) mergedPage {
	t.Helper()
	r := c.do("GET", "/v1/movies?"+query, nil, nil)
	p := mergedPage{status: r.status, body: string(r.body)}
	if r.status == 200 {
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatalf("%s: %v: %.200s", query, err, r.body)
		}
	}
	return p
}

// order is the page's order: its hits' ids.
func (p mergedPage) order() []string {
	out := make([]string, len(p.Hits))
	for i, h := range p.Hits {
		out[i] = strconv.FormatInt(h.ID, 10)
	}
	return out
}

// samePage says how got differs from want ("": it does not).
func samePage(want, got mergedPage) string {
	switch {
	case got.Total != want.Total:
		return fmt.Sprintf("total %d from the shards, %d from one index", got.Total, want.Total)
	case !slices.Equal(got.order(), want.order()):
		return fmt.Sprintf("hits %v from the shards, %v from one index", got.order(), want.order())
	case got.DidYouMean != want.DidYouMean:
		return fmt.Sprintf("did you mean %q from the shards, %q from one index", got.DidYouMean, want.DidYouMean)
	case got.FacetsApproximate != want.FacetsApproximate:
		return fmt.Sprintf("facets approximate %v from the shards, %v from one index", got.FacetsApproximate, want.FacetsApproximate)
	case (got.NextCursor == "") != (want.NextCursor == ""):
		return fmt.Sprintf("next cursor %q from the shards, %q from one index", got.NextCursor, want.NextCursor)
	}
	for name, w := range want.Facets {
		var wv, gv any
		_ = json.Unmarshal(w, &wv)
		_ = json.Unmarshal(got.Facets[name], &gv)
		if !reflect.DeepEqual(wv, gv) {
			return fmt.Sprintf("facet %s: %.400s from the shards, %.400s from one index", name, got.Facets[name], w)
		}
	}
	if len(got.Facets) != len(want.Facets) {
		return fmt.Sprintf("facets %d from the shards, %d from one index", len(got.Facets), len(want.Facets))
	}
	return ""
}

// walk follows first's cursor for up to four more pages and returns every page's order; a movie on two
// pages fails the test.
func walk(t *testing.T, c *client, query string, first mergedPage) [][]string {
	t.Helper()
	pages := [][]string{first.order()}
	seen := map[int64]bool{}
	base, _ := url.ParseQuery(query)
	base.Del("page")
	for p := first; ; {
		for _, h := range p.Hits {
			if seen[h.ID] {
				t.Errorf("%s: movie %d twice in pages by cursor", query, h.ID)
			}
			seen[h.ID] = true
		}
		if p.NextCursor == "" || len(pages) == 5 {
			return pages
		}
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set("cursor", p.NextCursor)
		if p = getPage(t, c, q.Encode()); p.status != 200 {
			t.Fatalf("%s: page %d by cursor: %d %.200s", query, len(pages)+1, p.status, p.body)
		}
		pages = append(pages, p.order())
	}
}

// shardTestCatalog is the catalog of the test and the texts of its judged queries: the TMDB-derived
// catalog and its judged queries, or, under the race detector (whose searches are ten times slower), the
// seed and a few of its titles.
func shardTestCatalog(t *testing.T) ([]ingest.Movie, []string) {
	path, judgments := testenv.SharedData(t, "movies.jsonl.gz"), testenv.SharedData(t, "judgments-dev.tsv")
	_, err := os.Stat(path)
	if raceEnabled || err != nil {
		path, judgments = "../../data/imdb.json", ""
	}
	var movies []ingest.Movie
	err = ingest.ReadFile(path, func(rec ingest.Record) error {
		if rec.Err == nil {
			m := rec.Movie
			m.FillLists()
			m.ID = int64(len(movies) + 1)
			if m.TMDBID != nil && *m.TMDBID > 0 {
				m.ID = *m.TMDBID
			}
			movies = append(movies, m)
		}
		return nil
	})
	if err != nil || len(movies) < 200 {
		t.Fatalf("%d movies read from %s: %v", len(movies), path, err)
	}
	var texts []string
	if judgments != "" {
		b, err := os.ReadFile(judgments)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Split(line, "\t"); len(f) > 2 && !slices.Contains(texts, f[1]) {
				texts = append(texts, f[1])
			}
		}
	}
	return movies, texts
}

// shardTestSearches are the query strings compared: the judged texts, and texts made from the catalog's
// titles (whole, a word, a typo, a word being typed) with facets, filters, sorts and second pages.
func shardTestSearches(movies []ingest.Movie, judged []string) []string {
	const facets = "facets=directors,cast,decade,rating,runtime,year,language"
	var out []string
	for _, text := range judged {
		out = append(out, "per_page=10&"+facets+"&q="+url.QueryEscape(text))
	}
	n := 60
	if raceEnabled {
		n = 12
	}
	for i, m := range movies[:n] {
		words := strings.Fields(strings.ToLower(m.Title))
		w := words[len(words)-1]
		texts := []string{m.Title, words[0]}
		if len(w) >= 5 {
			texts = append(texts, w[:2]+w[3:], w[:3])
		}
		for j, text := range texts {
			q := "q=" + url.QueryEscape(text)
			switch (i + j) % 6 {
			case 0:
				out = append(out, q+"&per_page=10&"+facets)
			case 1:
				out = append(out, q+"&per_page=5&page=2&facets=directors,decade")
			case 2:
				out = append(out, q+"&sort=-rating&per_page=10&facets=cast")
			case 3:
				out = append(out, q+"&genre=Drama&genre=Comedy&per_page=10&facets=directors")
			case 4:
				out = append(out, q+"&year_min=1990&sort=-year,title&per_page=7")
			default:
				out = append(out, q+"&per_page=3&facets=genres")
			}
		}
	}
	out = append(out, "per_page=10&"+facets, "per_page=10&page=3&sort=title", "genre=Drama&per_page=10&facets=directors,cast",
		"sort=-popularity&per_page=10&year_max=1980&facets=decade")
	return out
}

// publishMovies creates stream (partitioned) and publishes every movie to it, as the catalog would.
func publishMovies(t *testing.T, natsURL string, stream events.Stream, movies []ingest.Movie) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var acks []jetstream.PubAckFuture
	for i := range movies {
		m := &movies[i]
		m.Version, m.CreatedAt, m.UpdatedAt = 1, at, at
		b, err := (&events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: m.ID, Version: 1, OccurredAt: at, Movie: m}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		f, err := js.PublishAsync(stream.Subject(m.ID), b, jetstream.WithMsgID(events.MsgID(m.ID, 1)))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("publishing the catalog took over 5 minutes")
		}
	}
}
