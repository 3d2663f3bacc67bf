package searchsvc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/pkg/natsx"
	"marquee/pkg/testenv"
	"marquee/services/search/searchsvc"
)

// Three search services, each configured with one partition of a stream partitioned three ways, hold
// between them every movie once: each indexes, finds, serves and reports the versions of its own movies
// only, is caught up when its partition is, and does not wait for a movie of another partition. A service
// of every partition holds them all. A data folder reused for another partition is rebuilt for it.
func TestShardsOfAPartitionedStream(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	stream := events.Stream{Name: "TPART", Prefix: "tpart", Partitions: 3}
	if _, err := natsx.EnsureStream(ctx, js, stream, 0); err != nil {
		t.Fatal(err)
	}
	const movies = 60
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	owned := make([][]int64, stream.Partitions)
	for id := int64(1); id <= movies; id++ {
		e := &events.MovieChanged{Schema: 1, Type: events.MovieUpserted, ID: id, Version: 1, OccurredAt: at,
			Movie: &events.Movie{ID: id, Version: 1, Title: fmt.Sprintf("Shardword %d", id), CreatedAt: at, UpdatedAt: at}}
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, stream.Subject(id), b, jetstream.WithMsgID(events.MsgID(id, 1))); err != nil {
			t.Fatal(err)
		}
		p := stream.Partition(id)
		owned[p] = append(owned[p], id)
	}
	config := func(partition int) searchsvc.Config {
		cfg := searchsvc.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.Stream, cfg.SubjectPrefix, cfg.StreamPartitions, cfg.Partition = stream.Name, stream.Prefix, stream.Partitions, partition
		return cfg
	}
	var shardDirs []string
	for p := range stream.Partitions {
		cfg := config(p)
		shardDirs = append(shardDirs, cfg.DataDir)
		svc, stop := startService(t, js, cfg)
		h := svc.Handler()
		waitReady(t, h)
		if got := searchIDs(t, h, "/v1/movies?q=shardword&per_page=100"); !slices.Equal(got, owned[p]) {
			t.Errorf("partition %d finds %v, want its movies %v", p, got, owned[p])
		}
		other := owned[(p+1)%stream.Partitions][0]
		if code := get(h, fmt.Sprintf("/v1/movies/%d", owned[p][0])).Code; code != http.StatusOK {
			t.Errorf("partition %d: its movie %d answered %d", p, owned[p][0], code)
		}
		if code := get(h, fmt.Sprintf("/v1/movies/%d", other)).Code; code != http.StatusNotFound {
			t.Errorf("partition %d: another partition's movie %d answered %d", p, other, code)
		}
		// A read that waits for another partition's write is answered as consistent: that movie never
		// comes to this shard, and waiting for it would only run out the consistency wait.
		w := get(h, fmt.Sprintf("/v1/movies?q=shardword&min_version=%d:1", other))
		if w.Code != http.StatusOK || w.Header().Get(httpx.ConsistentHeader) != "true" {
			t.Errorf("partition %d: min_version of another partition's movie: %d, consistent %q", p, w.Code, w.Header().Get(httpx.ConsistentHeader))
		}
		var vs struct {
			Versions []struct {
				ID int64 `json:"id"`
			} `json:"versions"`
			Partition  *int `json:"partition"`
			Partitions int  `json:"partitions"`
		}
		if err := json.Unmarshal(get(h, "/v1/index/versions?after_id=0").Body.Bytes(), &vs); err != nil {
			t.Fatal(err)
		}
		if vs.Partition == nil || *vs.Partition != p || vs.Partitions != stream.Partitions || len(vs.Versions) != len(owned[p]) {
			t.Errorf("partition %d: versions say partition %v of %d, %d movies; want %d of %d, %d movies",
				p, vs.Partition, vs.Partitions, len(vs.Versions), p, stream.Partitions, len(owned[p]))
		}
		// A replica of another partition asking for this one's index is refused before it is copied.
		if w := get(h, "/v1/index/snapshot?contents=partition+9+of+10"); w.Code != http.StatusConflict {
			t.Errorf("partition %d: a snapshot for another partition answered %d", p, w.Code)
		}
		if p == 0 {
			stop() // its data folder is reused below
		}
	}
	all, _ := startService(t, js, config(events.AllPartitions))
	waitReady(t, all.Handler())
	if got := searchIDs(t, all.Handler(), "/v1/movies?q=shardword&per_page=100"); len(got) != movies {
		t.Errorf("every partition's service finds %d movies, want %d", len(got), movies)
	}
	moved := config(1)
	moved.DataDir = shardDirs[0]
	svc, _ := startService(t, js, moved)
	waitReady(t, svc.Handler())
	if got := searchIDs(t, svc.Handler(), "/v1/movies?q=shardword&per_page=100"); !slices.Equal(got, owned[1]) {
		t.Errorf("partition 0's data folder serving partition 1 finds %v, want %v", got, owned[1])
	}
	// A rebuild replays the shard's partition only, and knows when it has caught up with it.
	w := httptest.NewRecorder()
	svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/index/rebuild", nil))
	if w.Code != http.StatusAccepted {
		t.Fatalf("rebuild: %d %s", w.Code, w.Body)
	}
	testenv.Eventually(t, "the rebuild done", func() bool {
		var st struct {
			State string `json:"state"`
		}
		_ = json.Unmarshal(get(svc.Handler(), "/v1/index/rebuild").Body.Bytes(), &st)
		return st.State == "done"
	})
	if got := searchIDs(t, svc.Handler(), "/v1/movies?q=shardword&per_page=100"); !slices.Equal(got, owned[1]) {
		t.Errorf("partition 1 rebuilt finds %v, want %v", got, owned[1])
	}
}

// startService runs the service until the test ends or stop is called.
func startService(t *testing.T, js jetstream.JetStream, cfg searchsvc.Config) (*searchsvc.Service, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := searchsvc.New(ctx, cfg, searchsvc.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), JS: js})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(stop)
	return svc, stop
}

func get(h http.Handler, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func waitReady(t *testing.T, h http.Handler) {
	t.Helper()
	testenv.Eventually(t, "ready", func() bool { return get(h, "/readyz").Code == http.StatusOK })
}

// searchIDs is the ids of a search's hits, in id order.
func searchIDs(t *testing.T, h http.Handler, target string) []int64 {
	t.Helper()
	w := get(h, target)
	var res struct {
		Hits []struct {
			ID int64 `json:"id"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	}
	var ids []int64
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	return ids
}
