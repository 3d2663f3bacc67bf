package searchsvc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/testenv"
	"marquee/services/search/searchsvc"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*searchsvc.Config)
		valid  bool
	}{
		{name: "defaults", change: func(*searchsvc.Config) {}, valid: true},
		{name: "random port", change: func(c *searchsvc.Config) { c.Addr = ":0" }, valid: true},
		{name: "addr without port", change: func(c *searchsvc.Config) { c.Addr = "localhost" }},
		{name: "no nats url", change: func(c *searchsvc.Config) { c.NATSURL = "" }},
		{name: "no data dir", change: func(c *searchsvc.Config) { c.DataDir = " " }},
		{name: "stream with a dot", change: func(c *searchsvc.Config) { c.Stream = "CAT.ALOG" }},
		{name: "prefix with a wildcard", change: func(c *searchsvc.Config) { c.SubjectPrefix = "catalog.*" }},
		{name: "four shards", change: func(c *searchsvc.Config) { c.IndexShards = 4 }, valid: true},
		{name: "no shards", change: func(c *searchsvc.Config) { c.IndexShards = 0 }},
		{name: "too many shards", change: func(c *searchsvc.Config) { c.IndexShards = 65 }},
		{name: "a shard of three partitions", change: func(c *searchsvc.Config) { c.StreamPartitions, c.Partition = 3, 2 }, valid: true},
		{name: "every partition of three", change: func(c *searchsvc.Config) { c.StreamPartitions = 3 }, valid: true},
		{name: "a partition past the last", change: func(c *searchsvc.Config) { c.StreamPartitions, c.Partition = 3, 3 }},
		{name: "a partition below -1", change: func(c *searchsvc.Config) { c.StreamPartitions, c.Partition = 3, -2 }},
		{name: "a partition of an unpartitioned stream", change: func(c *searchsvc.Config) { c.Partition = 1 }},
		{name: "a shard's peers", change: func(c *searchsvc.Config) {
			c.StreamPartitions, c.Partition, c.Peers = 3, 0, "http://s1:8082, http://s2:8082/"
		}, valid: true},
		{name: "peers of every movie", change: func(c *searchsvc.Config) { c.StreamPartitions, c.Peers = 3, "http://s1:8082,http://s2:8082" }},
		{name: "a peer too few", change: func(c *searchsvc.Config) { c.StreamPartitions, c.Partition, c.Peers = 3, 0, "http://s1:8082" }},
		{name: "a peer not a URL", change: func(c *searchsvc.Config) { c.StreamPartitions, c.Partition, c.Peers = 3, 0, "http://s1:8082,s2:8082" }},
		{name: "negative stream_partitions", change: func(c *searchsvc.Config) { c.StreamPartitions = -1 }},
		{name: "too many stream_partitions", change: func(c *searchsvc.Config) { c.StreamPartitions = 1025 }},
		{name: "never compact", change: func(c *searchsvc.Config) { c.CompactAfter = 0 }, valid: true},
		{name: "negative compact_after", change: func(c *searchsvc.Config) { c.CompactAfter = -time.Second }},
		{name: "no stale answers", change: func(c *searchsvc.Config) { c.CacheMaxAge = 0 }, valid: true},
		{name: "negative cache_max_age", change: func(c *searchsvc.Config) { c.CacheMaxAge = -time.Second }},
		{name: "cache_max_age over 10m", change: func(c *searchsvc.Config) { c.CacheMaxAge = 11 * time.Minute }},
		{name: "cache_max_age of part of a second", change: func(c *searchsvc.Config) { c.CacheMaxAge = 1500 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := searchsvc.DefaultConfig()
			tt.change(&cfg)
			if err := cfg.Validate(); (err == nil) != tt.valid {
				t.Errorf("Validate()=%v, want valid=%v", err, tt.valid)
			}
		})
	}
}

// TestService starts the service before any event exists (so it declares the stream itself), then follows
// a catalog that publishes a movie.
func TestService(t *testing.T) {
	js := testenv.JetStream(t)

	cfg := searchsvc.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Stream, cfg.SubjectPrefix = "TSVC", "tsvc"
	svc := runService(t, js, cfg)
	ctx := context.Background()

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: 7, Version: 1, OccurredAt: at,
		Movie: &events.Movie{ID: 7, Version: 1, Title: "Amélie", Genres: []string{"Comedy"}, CreatedAt: at, UpdatedAt: at}}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, cfg.EventStream().Subject(7), b, jetstream.WithMsgID(events.MsgID(7, 1))); err != nil {
		t.Fatal(err)
	}

	h := svc.Handler()
	get := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		return w
	}
	deadline := time.Now().Add(10 * time.Second)
	for get("/readyz").Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 10s: %s", get("/readyz").Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w := get("/v1/movies?q=amelie")
	var res struct {
		Total uint64 `json:"total"`
		Hits  []struct {
			ID    int64  `json:"id"`
			Title string `json:"title"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if res.Total != 1 || len(res.Hits) != 1 || res.Hits[0].ID != 7 {
		t.Errorf("search answer %s, want movie 7", w.Body)
	}
}

// TestCursorAtAnotherReplica: two search services on one NATS, as replicas behind a gateway: a cursor one
// hands out continues the search at the other, although neither has a cursor key configured; a service
// on another stream (another key) refuses it.
func TestCursorAtAnotherReplica(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	start := func(stream string) *searchsvc.Service {
		cfg := searchsvc.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Stream, cfg.SubjectPrefix = stream, strings.ToLower(stream)
		return runService(t, js, cfg)
	}
	a, b, other := start("TCUR"), start("TCUR"), start("TCUROTHER")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for id := int64(1); id <= 3; id++ {
		e := &events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: id, Version: 1, OccurredAt: at,
			Movie: &events.Movie{ID: id, Version: 1, Title: "Quokka " + strconv.FormatInt(id, 10), CreatedAt: at, UpdatedAt: at}}
		msg, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"tcur", "tcurother"} {
			if _, err := js.Publish(ctx, s+".movie."+strconv.FormatInt(id, 10), msg, jetstream.WithMsgID(events.MsgID(id, 1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	get := func(svc *searchsvc.Service, target string) (int, string, []int64) {
		w := httptest.NewRecorder()
		svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		var page struct {
			NextCursor string `json:"next_cursor"`
			Hits       []struct {
				ID int64 `json:"id"`
			} `json:"hits"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &page)
		var ids []int64
		for _, h := range page.Hits {
			ids = append(ids, h.ID)
		}
		return w.Code, page.NextCursor, ids
	}
	const first = "/v1/movies?q=quokka&per_page=1&sort=title"
	for _, svc := range []*searchsvc.Service{a, b, other} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, _, ids := get(svc, "/v1/movies?q=quokka&per_page=3"); len(ids) == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the movies were not searchable within 10s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	code, cursor, ids := get(a, first)
	if code != http.StatusOK || cursor == "" || len(ids) != 1 {
		t.Fatalf("first page: %d, cursor %q, %v", code, cursor, ids)
	}
	if code, _, next := get(b, first+"&cursor="+url.QueryEscape(cursor)); code != http.StatusOK || len(next) != 1 || next[0] == ids[0] {
		t.Errorf("the other replica answered the cursor with %d %v, want the next movie after %v", code, next, ids)
	}
	if code, _, _ := get(other, first+"&cursor="+url.QueryEscape(cursor)); code != http.StatusBadRequest {
		t.Errorf("a service with another key answered the cursor with %d, want 400", code)
	}
}
