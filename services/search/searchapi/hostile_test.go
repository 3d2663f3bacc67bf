package searchapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"marquee/pkg/httpx"
	"marquee/services/search"
	"marquee/services/search/searchapi"
)

// slowIndex is a Searcher whose searches last until their context ends.
type slowIndex struct{ search.Searcher }

func (slowIndex) Search(ctx context.Context, _ search.Query) (*search.Result, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestCancelledSearchIs499: a search the client gave up on is a 499, not an error logged as a 500.
func TestCancelledSearchIs499(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelError}))
	reg := httpx.NewRegistry()
	h := searchapi.NewHandlerWith(log, slowIndex{MustIndex(t)}, searchapi.Deps{HTTPMetrics: httpx.NewMetrics(reg), Metrics: httpx.MetricsHandler(reg)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/movies?q=heat", nil).WithContext(ctx))
	if w.Code != httpx.StatusClientClosed {
		t.Fatalf("status = %d, want 499", w.Code)
	}
	if logged.Len() != 0 {
		t.Fatalf("logged as an error: %s", logged.String())
	}
	m := httptest.NewRecorder()
	h.ServeHTTP(m, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(m.Body)
	if strings.Contains(string(body), `code="5xx"`) || !strings.Contains(string(body), `code="4xx"`) {
		t.Fatalf("the cancelled search was not counted as a 4xx:\n%s", body)
	}
}
