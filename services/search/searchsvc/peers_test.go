package searchsvc_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/ingest"
	"marquee/pkg/natsx"
	"marquee/pkg/testenv"
	"marquee/services/search"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
	"marquee/services/search/searchsvc"
)

// Three search services, each of one partition of the stream with the other two as its peers over HTTP,
// answer together as one service of every movie: for searches of the seed's titles, their words, typos,
// prefixes and mixed words, their totals add up to its total and their first pages, merged by tier, score
// and id, are its first page. A peer that does not answer fails the search with 503, never a shard's own
// ranking passed off as the catalog's.
func TestShardServicesRankAsOne(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	stream := events.Stream{Name: "TPEERS", Prefix: "tpeers", Partitions: 3}
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		t.Fatal(err)
	}
	seed, err := filepath.Abs("../../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := int64(0)
	err = ingest.ReadFile(seed, func(rec ingest.Record) error {
		if rec.Err != nil {
			return nil
		}
		id++
		m := rec.Movie
		m.FillLists()
		m.ID, m.Version, m.CreatedAt, m.UpdatedAt = id, 1, at, at
		e := &events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: id, Version: 1, OccurredAt: at, Movie: &m}
		b, err := e.Marshal()
		if err != nil {
			return err
		}
		titles = append(titles, m.Title)
		_, err = js.Publish(ctx, stream.Subject(id), b, jetstream.WithMsgID(events.MsgID(id, 1)))
		return err
	})
	if err != nil || len(titles) < 200 {
		t.Fatalf("%d seed movies published: %v", len(titles), err)
	}
	config := func(partition int) searchsvc.Config {
		cfg := searchsvc.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Stream, cfg.SubjectPrefix, cfg.StreamPartitions, cfg.Partition = stream.Name, stream.Prefix, stream.Partitions, partition
		cfg.CacheBytes = 0
		return cfg
	}
	// Each shard's address is known before the services start: each names the others. The last shard is of
	// an older version, without the route of several questions: its peers ask it one question at a time.
	handlers := make([]atomic.Pointer[http.Handler], stream.Partitions)
	urls := make([]string, stream.Partitions)
	var batches, refused atomic.Int64 // requests of several questions; of several to the older shard
	for p := range urls {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == searchapi.PeerEachRoute {
				if p == len(urls)-1 {
					refused.Add(1)
					http.NotFound(w, r)
					return
				}
				batches.Add(1)
			}
			if h := handlers[p].Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		urls[p] = srv.URL
	}
	shards := make([]*searchsvc.Service, stream.Partitions)
	for p := range shards {
		cfg := config(p)
		cfg.Peers = strings.Join(slices.Delete(slices.Clone(urls), p, p+1), ",")
		shards[p], _ = startService(t, js, cfg)
		h := shards[p].Handler()
		handlers[p].Store(&h)
	}
	whole, _ := startService(t, js, config(events.AllPartitions))
	for _, s := range append(slices.Clone(shards), whole) {
		waitReady(t, s.Handler())
	}

	var texts []string
	some := 80
	if raceEnabled {
		some = 20 // the race detector makes each search ten times as slow; make norace's runs are whole
	}
	for i, title := range titles[:some] {
		words := strings.Fields(strings.ToLower(title))
		texts = append(texts, title, words[0])
		if w := words[len(words)-1]; len(w) >= 5 {
			texts = append(texts, w[:2]+w[3:], w[:3]) // a typo, and the word being typed
		}
		texts = append(texts, words[0]+" "+strings.Fields(strings.ToLower(titles[(i*7+3)%len(titles)]))[0])
	}
	for _, text := range texts {
		q := search.Query{Text: text, PerPage: 10}
		want, err := whole.Index().Search(ctx, q)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var total uint64
		var hits []search.Hit
		for p, s := range shards {
			res, err := s.Index().Search(ctx, q)
			if err != nil {
				t.Fatalf("%q: shard %d: %v", text, p, err)
			}
			if res.DidYouMean != want.DidYouMean {
				t.Errorf("%q: shard %d: did you mean %q, one service %q", text, p, res.DidYouMean, want.DidYouMean)
			}
			total += res.Total
			hits = append(hits, res.Hits...)
		}
		slices.SortStableFunc(hits, func(a, b search.Hit) int {
			if c := cmp.Compare(a.Tier, b.Tier); c != 0 {
				return c
			}
			if c := cmp.Compare(b.Score, a.Score); c != 0 {
				return c
			}
			return cmp.Compare(fmt.Sprint(a.Movie.ID), fmt.Sprint(b.Movie.ID))
		})
		if total != want.Total || len(hits) < len(want.Hits) {
			t.Errorf("%q: the shards found %d movies (%d hits), one service %d (%d)", text, total, len(hits), want.Total, len(want.Hits))
			continue
		}
		for k, w := range want.Hits {
			g := hits[k]
			if g.Movie.ID != w.Movie.ID || math.Abs(g.Score-w.Score) > 1e-9*w.Score || g.Tier != w.Tier || g.Match != w.Match {
				t.Errorf("%q: hit %d: movie %d (score %v, tier %d, %s) on the shards, movie %d (score %v, tier %d, %s) on one service",
					text, k, g.Movie.ID, g.Score, g.Tier, g.Match, w.Movie.ID, w.Score, w.Tier, w.Match)
				break
			}
		}
	}
	t.Logf("%d searches: three shard services answered as one, asking %d times several questions at once", len(texts), batches.Load())
	if batches.Load() == 0 {
		t.Error("no shard asked its peers several questions at once")
	}
	// Each of the other shards learnt once that the older one knows no such route, and asked it one
	// question at a time from then on.
	if n := refused.Load(); n < 1 || n > int64(len(urls)-1) {
		t.Errorf("the older shard was asked several questions at once %d times, want 1 to %d", n, len(urls)-1)
	}

	// The questions' endpoint answers what a shard asks, and nothing else.
	suggestPool := func(words, completions, stats string) string {
		q := `{"op":"suggest_pool","words":` + words + `,"completions":` + completions
		if stats != "" {
			q += `,"stats":` + stats
		}
		return q + `}`
	}
	post := func(h http.Handler, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/index/peer", strings.NewReader(body)))
		return w
	}
	for body, code := range map[string]int{
		`{"op":"count","query":{"term":"love","field":"title"}}`:  http.StatusOK,
		`{"op":"count","query":{"regexp":".*","field":"title"}}`:  http.StatusBadRequest,
		`{"op":"count","query":{"wildcard":"*","field":"title"}}`: http.StatusBadRequest,
		`{"op":"count","query":{"query":"title:love"}}`:           http.StatusBadRequest,
		`{"op":"count"}`: http.StatusBadRequest,
		`{"op":"prefix_counts","field":"title","word":""}`: http.StatusBadRequest,
		`{"op":"drop_index"}`:                              http.StatusBadRequest,
		suggestPool(`["godf"]`, `{"title":["godfather"],"cast":[],"directors":[]}`, `{"docs":248,"terms":[{"field":"title","word":"godfather"}],"freqs":[3]}`): http.StatusOK,
		suggestPool(`["godf"]`, `{"title":["godfather"],"cast":[],"directors":[]}`, ``):                                                                        http.StatusBadRequest, // no statistics
		suggestPool(`[""]`, `{"title":[],"cast":[],"directors":[]}`, `{"docs":248,"terms":[],"freqs":[]}`):                                                     http.StatusBadRequest, // every word of three fields
		suggestPool(`["godf"]`, `{"title":["godfather"],"cast":[],"directors":[]}`, `{"docs":0,"terms":[],"freqs":[]}`):                                        http.StatusBadRequest, // no catalog: scores of NaN
		suggestPool(`["godf"]`, `{"title":["godfather"],"cast":[],"directors":[]}`, `{"docs":248,"terms":[{"field":"title","word":"godfather"}],"freqs":[]}`):  http.StatusBadRequest,
		suggestPool(`["godf"]`, `{"title":["star"],"cast":[],"directors":[]}`, `{"docs":248,"terms":[],"freqs":[]}`):                                           http.StatusBadRequest, // not a completion
		suggestPool(`["godf"]`, `{"title":["godfather"]}`, `{"docs":248,"terms":[],"freqs":[]}`):                                                               http.StatusBadRequest, // fields missing
		suggestPool(`["g"]`, `{"title":[`+strings.Repeat(`"gx",`, 60)+`"g"],"cast":[],"directors":[]}`, `{"docs":248,"terms":[],"freqs":[]}`):                  http.StatusBadRequest, // more than a suggestion's
	} {
		if w := post(shards[0].Handler(), body); w.Code != code {
			t.Errorf("question %.80s: %d %s, want %d", body, w.Code, w.Body, code)
		}
	}
	each := func(h http.Handler, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, searchapi.PeerEachRoute, strings.NewReader(body)))
		return w
	}
	if w := each(shards[0].Handler(), `[{"op":"doc_count"},{"op":"count","query":{"term":"love","field":"title"}}]`); w.Code != http.StatusOK {
		t.Errorf("two questions: %d %s", w.Code, w.Body)
	} else {
		var answers []searchindex.PeerAnswer
		alone := post(shards[0].Handler(), `{"op":"count","query":{"term":"love","field":"title"}}`)
		var one searchindex.PeerAnswer
		if err := json.Unmarshal(w.Body.Bytes(), &answers); err != nil || len(answers) != 2 || json.Unmarshal(alone.Body.Bytes(), &one) != nil || answers[1].N != one.N || answers[0].N == 0 {
			t.Errorf("two questions answered %s (%v), the second alone %s", w.Body, err, alone.Body)
		}
	}
	for _, body := range []string{
		`[]`, `{"op":"doc_count"}`, `[{"op":"doc_count"},{"op":"drop_index"}]`,
		`[` + strings.Repeat(`{"op":"doc_count"},`, searchindex.MaxEach) + `{"op":"doc_count"}]`,
		`[{"op":"count","query":` + strings.Repeat(`{"conjuncts":[`, 40) + `{"match_all":{}}` + strings.Repeat(`]}`, 40) + `}]`,
	} {
		if w := each(shards[0].Handler(), body); w.Code != http.StatusBadRequest {
			t.Errorf("questions %.80s: %d %s, want 400", body, w.Code, w.Body)
		}
	}
	if w := post(whole.Handler(), `{"op":"doc_count"}`); w.Code != http.StatusNotFound {
		t.Errorf("a service of every movie answered a shard's question: %d", w.Code)
	}
	// A peer list that names one shard twice would count its movies twice: the search is refused.
	twice := config(0)
	twice.Peers = urls[1] + "," + urls[1]
	doubled, _ := startService(t, js, twice)
	waitReady(t, doubled.Handler())
	if w := get(doubled.Handler(), "/v1/movies?q=love"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("a shard whose peers name one shard twice: %d %s", w.Code, w.Body)
	}

	// A shard whose peer does not answer refuses the search.
	handlers[2].Store(nil)
	if w := get(shards[0].Handler(), "/v1/movies?q=love"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("a search with a peer away: %d %s", w.Code, w.Body)
	}
}
