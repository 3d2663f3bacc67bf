package searchsvc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
)

// A peer that knew no route of several questions (an older version) is asked one question a request, and,
// once upgraded, several at once again after singleFor: not until this shard restarts.
func TestOlderPeerAskedSeveralAtOnceAgainAfterAWhile(t *testing.T) {
	var upgraded atomic.Bool
	var each, one atomic.Int64 // requests to either route
	answer := searchindex.PeerAnswer{Contents: "partition 1", N: 7}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case searchapi.PeerEachRoute:
			each.Add(1)
			if !upgraded.Load() {
				http.NotFound(w, r)
				return
			}
			var qs []json.RawMessage
			if err := json.Unmarshal(body, &qs); err != nil {
				t.Errorf("several questions: %v", err)
			}
			out := make([]searchindex.PeerAnswer, len(qs))
			for i := range out {
				out[i] = answer
			}
			_ = json.NewEncoder(w).Encode(out)
		case searchapi.PeerRoute:
			one.Add(1)
			_ = json.NewEncoder(w).Encode(answer)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := newHTTPPeers([]string{srv.URL}, "", "partition 0")
	p.now = func() time.Time { return clock }
	qs := []searchindex.PeerQuestion{{Op: searchindex.AskDocCount}, {Op: searchindex.AskRatings}}
	ask := func(wantEach, wantOne int64) {
		t.Helper()
		got, err := p.AskEach(context.Background(), qs)
		if err != nil || len(got) != 2 || got[0][0].N != 7 || got[1][0].N != 7 {
			t.Fatalf("answers %+v, %v", got, err)
		}
		if each.Load() != wantEach || one.Load() != wantOne {
			t.Errorf("at %s: %d requests of several questions and %d of one, want %d and %d", clock.Format(time.TimeOnly), each.Load(), one.Load(), wantEach, wantOne)
		}
	}
	ask(1, 2) // refused, then one at a time
	ask(1, 4) // not asked several again
	upgraded.Store(true)
	clock = clock.Add(singleFor / 2)
	ask(1, 6)
	clock = clock.Add(singleFor / 2)
	ask(2, 6) // asked several at once again, in one request
	ask(3, 6)
}
