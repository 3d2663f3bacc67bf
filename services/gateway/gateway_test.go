package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

// backendLog is a stand-in service that records what reached it; the real services are exercised
// end to end in cmd/marquee's tests.
type backendLog struct {
	mu   sync.Mutex
	seen []string
	auth []string
}

func (b *backendLog) handler(extra func(w http.ResponseWriter, r *http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if extra != nil && extra(w, r) {
			return
		}
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.seen = append(b.seen, r.Method+" "+r.URL.Path)
		b.auth = append(b.auth, r.Header.Get("Authorization"))
		b.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

type fixture struct {
	gw              http.Handler
	catalog, search *backendLog
	admin, user     string
	expired, forged string
	catalogReady    bool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	f := &fixture{catalog: &backendLog{}, search: &backendLog{}, catalogReady: true}
	jwks := authn.JWKS{Keys: []authn.JWK{authn.PublicJWK("k1", pub)}}
	catalog := f.catalog.handler(func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/v1/auth/jwks.json":
			httpx.WriteJSON(w, http.StatusOK, jwks)
			return true
		case "/readyz":
			if !f.catalogReady {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return true
		}
		return false
	})
	search := f.search.handler(func(w http.ResponseWriter, r *http.Request) bool { return r.URL.Path == "/readyz" })
	f.gw = NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: catalog, Search: search}, Options{MaxBodyBytes: 1024})
	issue := func(key ed25519.PrivateKey, ttl time.Duration, role string) string {
		tok, err := authn.NewSigner("k1", key, ttl).Issue(authn.Principal{Subject: role + "-1", Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f.admin = issue(priv, time.Minute, authn.RoleAdmin)
	f.user = issue(priv, time.Minute, authn.RoleUser)
	f.expired = issue(priv, -time.Hour, authn.RoleAdmin)
	f.forged = issue(otherPriv, time.Minute, authn.RoleAdmin)
	return f
}

func (f *fixture) do(t *testing.T, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.gw.ServeHTTP(w, r)
	return w
}

// TestAuthorizationMatrix walks every routed operation with every kind of caller.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	callers := []struct{ name, token string }{
		{"anonymous", ""}, {"user", f.user}, {"admin", f.admin}, {"expired", f.expired}, {"forged", f.forged},
		{"garbage", "x.y.z"},
	}
	ops := []struct {
		method, path, backend string
		want                  map[string]int // caller → status; callers not named get 401
	}{
		{"GET", "/v1/movies?q=heat", "search", map[string]int{"anonymous": 200, "user": 200, "admin": 200}},
		{"GET", "/v1/movies/1", "search", map[string]int{"anonymous": 200, "user": 200, "admin": 200}},
		{"POST", "/v1/auth/token", "catalog", map[string]int{"anonymous": 200, "user": 200, "admin": 200}},
		{"POST", "/v1/movies", "catalog", map[string]int{"user": 403, "admin": 200}},
		{"PUT", "/v1/movies/1", "catalog", map[string]int{"user": 403, "admin": 200}},
		{"DELETE", "/v1/movies/1", "catalog", map[string]int{"user": 403, "admin": 200}},
	}
	for _, op := range ops {
		for _, c := range callers {
			t.Run(op.method+" "+op.path+" as "+c.name, func(t *testing.T) {
				want, ok := op.want[c.name]
				if !ok {
					want = http.StatusUnauthorized
				}
				before := len(f.catalog.seen) + len(f.search.seen)
				w := f.do(t, op.method, op.path, c.token, `{}`)
				if w.Code != want {
					t.Fatalf("status = %d, want %d (%s)", w.Code, want, w.Body)
				}
				reached := len(f.catalog.seen) + len(f.search.seen) - before
				if want == 200 && reached != 1 || want != 200 && reached != 0 {
					t.Fatalf("backend calls = %d for status %d", reached, w.Code)
				}
				if w.Code >= 400 && w.Header().Get("Content-Type") != httpx.ProblemContentType {
					t.Fatalf("error without problem+json: %q", w.Header().Get("Content-Type"))
				}
			})
		}
	}
}

func TestRoutingAndCredentials(t *testing.T) {
	f := newFixture(t)
	f.do(t, "GET", "/v1/movies?q=x", f.admin, "")
	f.do(t, "PUT", "/v1/movies/3", f.admin, `{"title":"x"}`)
	if got := f.search.seen; len(got) != 1 || got[0] != "GET /v1/movies" || f.search.auth[0] != "" {
		t.Fatalf("search saw %v with auth %q; reads must reach search without credentials", got, f.search.auth)
	}
	if got := f.catalog.seen; len(got) != 1 || got[0] != "PUT /v1/movies/3" || f.catalog.auth[0] != "Bearer "+f.admin {
		t.Fatalf("catalog saw %v with auth %v; writes must reach the catalog with the caller's token", got, f.catalog.auth)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "POST", "/v1/movies", f.admin, `{"title":"`+strings.Repeat("a", 2000)+`"}`)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", w.Code)
	}
	if len(f.catalog.seen) != 0 {
		t.Fatal("an oversized body reached the catalog")
	}
}

func TestReadyzFollowsBackends(t *testing.T) {
	f := newFixture(t)
	if w := f.do(t, "GET", "/readyz", "", ""); w.Code != 200 {
		t.Fatalf("readyz = %d with both parts ready", w.Code)
	}
	f.catalogReady = false
	w := f.do(t, "GET", "/readyz", "", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "catalog") {
		t.Fatalf("readyz = %d %s, want 503 naming the catalog", w.Code, w.Body)
	}
}

func TestUnreachableBackendIsUnavailable(t *testing.T) {
	dead, _ := url.Parse("http://127.0.0.1:1") // nothing listens on port 1
	log := slog.New(slog.DiscardHandler)
	gw := NewHandler(log, Backends{Catalog: NewProxy(log, "catalog", dead), Search: NewProxy(log, "search", dead)}, Options{})
	for _, path := range []string{"/v1/movies?q=x", "/v1/auth/token"} {
		method := map[string]string{"/v1/movies?q=x": "GET", "/v1/auth/token": "POST"}[path]
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(`{}`)))
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != httpx.ProblemContentType {
			t.Fatalf("%s: status %d %q, want 503 problem", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
}

// TestOpenAPIMatchesRoutes keeps the document and the router in step: every route is documented and every
// documented operation is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	f := newFixture(t)
	var routed []string
	for _, r := range f.gw.(interface{ Routes() gin.RoutesInfo }).Routes() {
		routed = append(routed, r.Method+" "+openAPIPath(r.Path))
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Fatalf("OpenAPI and routes differ:\ndocumented:\n%s\nrouted:\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}
}

// openAPIPath turns gin's /movies/:id into OpenAPI's /movies/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
