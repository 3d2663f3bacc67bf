package searchsvc_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
		{name: "never compact", change: func(c *searchsvc.Config) { c.CompactAfter = 0 }, valid: true},
		{name: "negative compact_after", change: func(c *searchsvc.Config) { c.CompactAfter = -time.Second }},
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
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := searchsvc.New(ctx, cfg, searchsvc.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), JS: js})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

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
