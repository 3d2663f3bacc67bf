package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"marquee/pkg/httpx"
)

// TestProxyAnswersWhenTheBackendDoesNot: a backend that takes the connection and never answers holds a
// request only as long as the proxy's timeout; the client then gets 503 with Retry-After. Without a timeout
// the request (and its client) waited for ever.
func TestProxyAnswersWhenTheBackendDoesNot(t *testing.T) {
	stop := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() { close(stop) })
	base, _ := url.Parse(backend.URL)
	proxy := newProxy(slog.New(slog.DiscardHandler), "search", base, 100*time.Millisecond, connMaxAge, "")
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		w := httptest.NewRecorder()
		proxy.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/movies?q=alien", nil))
		answered <- w
	}()
	select {
	case w := <-answered:
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Fatalf("silent backend: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy still waits for a backend that never answers")
	}
}

// TestProxyRenewsItsConnections: the proxy does not keep one connection for ever, so that the Service in
// front of the backends spreads the requests of a busy gateway over replicas added since.
func TestProxyRenewsItsConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
	}))
	t.Cleanup(backend.Close)
	base, _ := url.Parse(backend.URL)
	const maxAge = 20 * time.Millisecond
	proxy := newProxy(slog.New(slog.DiscardHandler), "search", base, SearchTimeout, maxAge, "")
	for range 6 { // each request after the connections' age: a new connection each time
		w := httptest.NewRecorder()
		proxy.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/movies", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("proxied request: %d", w.Code)
		}
		time.Sleep(maxAge + 5*time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) < 5 {
		t.Fatalf("six requests, each after the connections' age, came on %d connections; want a new one for each after the first", len(conns))
	}
}

// TestProxySendsTheInternalToken: a forwarded request carries the deployment's internal token, and never
// the one a client sent (which would otherwise open the backends' internal endpoints to any caller).
func TestProxySendsTheInternalToken(t *testing.T) {
	got := make(chan []string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Values(httpx.InternalTokenHeader)
	}))
	t.Cleanup(backend.Close)
	base, _ := url.Parse(backend.URL)
	forged := strings.Repeat("f", httpx.MinInternalToken)
	for _, token := range []string{strings.Repeat("s", httpx.MinInternalToken), ""} {
		proxy := newProxy(slog.New(slog.DiscardHandler), "search", base, SearchTimeout, connMaxAge, token)
		r := httptest.NewRequest(http.MethodPost, "/v1/index/rebuild", nil)
		r.Header.Set(httpx.InternalTokenHeader, forged)
		proxy.ServeHTTP(httptest.NewRecorder(), r)
		want := []string{token}
		if token == "" {
			want = nil
		}
		if h := <-got; !slices.Equal(h, want) {
			t.Errorf("token %q: the backend got %q, want %q", token, h, want)
		}
	}
}

// The session cookie crosses the proxy both ways, and an https client stays https to the catalog behind a
// proxy that ended TLS in front of the gateway, so that the cookie is marked Secure.
func TestProxyPassesTheSessionCookie(t *testing.T) {
	type seen struct{ cookie, proto string }
	got := make(chan seen, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-Proto")}
		http.SetCookie(w, &http.Cookie{Name: "marquee_refresh", Value: "next", Path: "/v1/auth", HttpOnly: true})
	}))
	t.Cleanup(backend.Close)
	base, _ := url.Parse(backend.URL)
	proxy := newProxy(slog.New(slog.DiscardHandler), "catalog", base, CatalogTimeout, connMaxAge, "")
	for _, proto := range []string{"https", ""} {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/refresh", strings.NewReader("{}"))
		r.Header.Set("Cookie", "marquee_refresh=old")
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		w := httptest.NewRecorder()
		proxy.ServeHTTP(w, r)
		want := seen{"marquee_refresh=old", "http"}
		if proto == "https" {
			want.proto = "https"
		}
		if s := <-got; s != want {
			t.Errorf("X-Forwarded-Proto %q: the backend saw %+v, want %+v", proto, s, want)
		}
		if c := w.Header().Get("Set-Cookie"); !strings.HasPrefix(c, "marquee_refresh=next") {
			t.Errorf("Set-Cookie = %q", c)
		}
	}
}
