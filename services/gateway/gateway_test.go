package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
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

func (b *backendLog) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}

// The API keys the stand-in catalog knows.
const (
	userKey    = "mq_userkey0123456789"
	adminKey   = "mq_adminkey0123456789"
	revokedKey = "mq_revokedkey0123456789"
)

// fakeClock is a settable clock for rate limits and the key cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	gw              http.Handler
	catalog, search *backendLog
	clock           *fakeClock

	admin, user, expired, forged, tampered, wrongAudience string

	mu             sync.Mutex
	catalogReady   bool
	catalogHangs   bool // its /readyz answers only when the caller gives up
	searchReady    bool
	searchDegraded string // what the stand-in search says it lacks while ready
	searchStale    bool   // the stand-in search is ready, its index not holding everything the stream does
	// searchCacheControl, if set, is the Cache-Control (with Age 2) the stand-in search answers reads with.
	searchCacheControl string
	introspections     int
	introspectFail     bool
	revoked            map[string]bool // tokens the stand-in catalog says are no longer active
}

func newFixture(t testing.TB, o Options) *fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	f := &fixture{catalog: &backendLog{}, search: &backendLog{}, catalogReady: true, searchReady: true, clock: &fakeClock{t: time.Unix(1_800_000_000, 0)}}
	jwks := authn.JWKS{Keys: []authn.JWK{authn.PublicJWK("k1", pub)}}
	catalog := f.catalog.handler(func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/v1/auth/jwks.json":
			if r.Header.Get("Authorization") == "" && r.RemoteAddr == "" { // the gateway's own fetch
				httpx.WriteJSON(w, http.StatusOK, jwks)
				return true
			}
			return false
		case "/readyz":
			f.mu.Lock()
			hangs := f.catalogHangs
			f.mu.Unlock()
			if hangs {
				<-r.Context().Done()
				return true
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !f.catalogReady {
				httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"detail": catalogNotReady})
			}
			return true
		case introspectPath:
			f.introspect(w, r)
			return true
		}
		return false
	})
	search := f.search.handler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/readyz" {
			if f.searchCacheControl != "" {
				w.Header().Set("Cache-Control", f.searchCacheControl)
				w.Header().Set("Age", "2")
			}
			return false
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case !f.searchReady:
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"detail": searchNotReady})
		case f.searchDegraded != "":
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "degraded", "detail": f.searchDegraded})
		case f.searchStale:
			httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "current": false})
		default:
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		}
		return true
	})
	if o.now == nil {
		o.now = f.clock.now
	}
	f.gw = NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: catalog, Search: search}, o)
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
	f.tampered = tamper(t, f.user)
	now := time.Now().Unix()
	f.wrongAudience = signJWT(t, priv, map[string]any{"iss": authn.Issuer, "aud": "someone-else", "sub": "admin-1", "role": "admin", "iat": now, "nbf": now, "exp": now + 60})
	return f
}

// introspect is the stand-in catalog's POST /v1/auth/introspect.
func (f *fixture) introspect(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.introspections++
	fail := f.introspectFail
	f.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var req struct{ Token string }
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	revoked := f.revoked[req.Token]
	f.mu.Unlock()
	if revoked {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	switch req.Token {
	case f.admin:
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": true, "subject": "admin-1", "role": "admin"})
	case f.user:
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": true, "subject": "user-1", "role": "user"})
	case userKey:
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": true, "subject": "key:u1", "role": "user"})
	case adminKey:
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": true, "subject": "key:a1", "role": "admin"})
	default:
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": false})
	}
}

func (f *fixture) introspectionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.introspections
}

// tamper turns a user's token into an admin's without signing it again.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// signJWT signs arbitrary claims with the catalog's key, for tokens the catalog would never issue.
func signJWT(t testing.TB, key ed25519.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": "k1"}) + "." + enc(claims)
	return signing + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(signing)))
}

func (f *fixture) do(t testing.TB, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.gw.ServeHTTP(w, r)
	return w
}

// noLimits is a gateway without rate limits, for tests that make many requests.
var noLimits = Options{MaxBodyBytes: 1024, MaxImportBytes: 4096, RateLimits: RateLimits{Off: true}}

// TestAuthorizationMatrix walks every route with every kind of caller and checks the exact status, and that
// only allowed calls reach a backend.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t, noLimits)
	callers := []struct{ name, token string }{
		{"anonymous", ""}, {"user", f.user}, {"admin", f.admin}, {"expired", f.expired}, {"tampered", f.tampered},
		{"forged", f.forged}, {"wrong-audience", f.wrongAudience}, {"garbage", "x.y.z"},
		{"user-key", userKey}, {"admin-key", adminKey}, {"revoked-key", revokedKey},
	}
	anyone := map[string]int{"anonymous": 200, "user": 200, "admin": 200, "user-key": 200, "admin-key": 200}
	admins := map[string]int{"anonymous": 401, "user": 403, "admin": 200, "user-key": 403, "admin-key": 200}
	nobody := map[string]int{"anonymous": 404, "user": 404, "admin": 404, "user-key": 404, "admin-key": 404}
	ops := []struct {
		method, path, backend string         // backend: "search", "catalog" or "" for none
		want                  map[string]int // caller → status; callers not named get 401
	}{
		{"GET", "/v1/movies?q=heat", "search", anyone},
		{"GET", "/v1/movies/1", "search", anyone},
		{"GET", "/v1/suggest?q=god", "search", anyone},
		{"POST", "/v1/movies", "catalog", admins},
		{"PUT", "/v1/movies/1", "catalog", admins},
		{"PATCH", "/v1/movies/1", "catalog", admins},
		{"DELETE", "/v1/movies/1", "catalog", admins},
		{"GET", "/v1/movies/1/history", "catalog", admins},
		{"POST", "/v1/imports", "catalog", admins},
		{"POST", "/v1/users", "catalog", admins},
		{"GET", "/v1/users", "catalog", admins},
		{"DELETE", "/v1/users/ada", "catalog", admins},
		{"POST", "/v1/keys", "catalog", admins},
		{"GET", "/v1/keys", "catalog", admins},
		{"DELETE", "/v1/keys/7f3a", "catalog", admins},
		{"POST", "/v1/auth/token", "catalog", anyone},
		{"POST", "/v1/auth/refresh", "catalog", anyone},
		{"POST", "/v1/auth/logout", "catalog", anyone},
		{"GET", "/v1/auth/jwks.json", "catalog", anyone},
		{"POST", "/v1/auth/rotate", "catalog", admins},
		{"POST", "/v1/auth/introspect", "", nobody},
		{"POST", "/v1/admin/reconcile", "catalog", admins},
		{"POST", "/v1/index/rebuild", "search", admins},
		{"GET", "/v1/index/rebuild", "search", admins},
		{"GET", "/metrics", "", map[string]int{"anonymous": 401, "user": 403, "admin": 404, "user-key": 403, "admin-key": 404}}, // operators only; this fixture has no registry: 404 (TestMetrics serves one)
		{"GET", "/healthz", "", anyone},
		{"GET", "/readyz", "", anyone},
		{"GET", "/openapi.json", "", anyone},
		{"GET", "/docs", "", anyone},
		{"GET", "/", "", anyone},
		{"GET", "/assets/app.js", "", anyone},
	}
	covered := map[string]bool{}
	for _, op := range ops {
		covered[op.method+" "+strings.Split(op.path, "?")[0]] = true
		for _, c := range callers {
			t.Run(op.method+" "+op.path+" as "+c.name, func(t *testing.T) {
				want, ok := op.want[c.name]
				if !ok {
					want = http.StatusUnauthorized
				}
				before := f.catalog.count() + f.search.count()
				w := f.do(t, op.method, op.path, c.token, `{}`)
				if w.Code != want {
					t.Fatalf("status = %d, want %d (%s)", w.Code, want, w.Body)
				}
				reached := f.catalog.count() + f.search.count() - before
				if wantReached := want == 200 && op.backend != ""; (reached == 1) != wantReached || reached > 1 {
					t.Fatalf("backend calls = %d for status %d", reached, w.Code)
				}
				if w.Code >= 400 && w.Header().Get("Content-Type") != httpx.ProblemContentType {
					t.Fatalf("error without problem+json: %q", w.Header().Get("Content-Type"))
				}
			})
		}
	}
	// Every route must be in the matrix, so a new route cannot skip it.
	for _, r := range f.gw.(interface{ Routes() gin.RoutesInfo }).Routes() {
		if !covered[r.Method+" "+concretePath(r.Path)] {
			t.Errorf("route %s %s is not in the authorization matrix", r.Method, r.Path)
		}
	}
}

// concretePath fills a route's parameters with the values the matrix uses.
func concretePath(p string) string {
	for param, v := range map[string]string{":id/history": "1/history", ":username": "ada", "*path": "app.js"} {
		p = strings.Replace(p, param, v, 1)
	}
	if strings.HasPrefix(p, "/v1/keys/") {
		return strings.Replace(p, ":id", "7f3a", 1)
	}
	return strings.Replace(p, ":id", "1", 1)
}

func TestRoutingAndCredentials(t *testing.T) {
	f := newFixture(t, noLimits)
	f.do(t, "GET", "/v1/movies?q=x", f.admin, "")
	f.do(t, "PUT", "/v1/movies/3", f.admin, `{"title":"x"}`)
	f.do(t, "POST", "/v1/imports", adminKey, `[]`)
	if got := f.search.seen; len(got) != 1 || got[0] != "GET /v1/movies" || f.search.auth[0] != "" {
		t.Fatalf("search saw %v with auth %q; reads must reach search without credentials", got, f.search.auth)
	}
	want := []string{"PUT /v1/movies/3", "POST /v1/imports"}
	wantAuth := []string{"Bearer " + f.admin, "Bearer " + adminKey}
	if strings.Join(f.catalog.seen, ",") != strings.Join(want, ",") || strings.Join(f.catalog.auth, ",") != strings.Join(wantAuth, ",") {
		t.Fatalf("catalog saw %v with auth %v; writes must reach the catalog with the caller's credentials", f.catalog.seen, f.catalog.auth)
	}
}

func TestBodyLimits(t *testing.T) {
	f := newFixture(t, noLimits)
	body := func(n int) string { return `{"title":"` + strings.Repeat("a", n) + `"}` }
	for _, tc := range []struct {
		name, path string
		size, want int
	}{
		{"movie under the limit", "/v1/movies", 900, 200},
		{"movie over the limit", "/v1/movies", 2000, 413},
		{"import over the usual limit", "/v1/imports", 2000, 200},
		{"import over its limit", "/v1/imports", 5000, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.catalog.count()
			w := f.do(t, "POST", tc.path, f.admin, body(tc.size))
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d", w.Code, tc.want)
			}
			if tc.want == 413 && f.catalog.count() != before {
				t.Fatal("an oversized body reached the catalog")
			}
		})
	}
	t.Run("chunked body over the limit", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/v1/movies", io.MultiReader(strings.NewReader(body(2000))))
		r.ContentLength = -1
		r.Header.Set("Authorization", "Bearer "+f.admin)
		w := httptest.NewRecorder()
		f.gw.ServeHTTP(w, r)
		// The stand-in catalog reads the body and fails at the limit; it then answers 200 with what it got,
		// so check that it got no more than the limit.
		if w.Body.Len() > 1024 {
			t.Fatalf("the catalog read %d bytes past a 1024-byte limit", w.Body.Len())
		}
	})
}

func TestQueryStringLimit(t *testing.T) {
	f := newFixture(t, Options{MaxQueryBytes: 100, RateLimits: RateLimits{Off: true}})
	if w := f.do(t, "GET", "/v1/movies?q="+strings.Repeat("a", 98), "", ""); w.Code != 200 {
		t.Fatalf("100-byte query: status %d", w.Code)
	}
	w := f.do(t, "GET", "/v1/movies?q="+strings.Repeat("a", 99), "", "")
	if w.Code != 400 || w.Header().Get("Content-Type") != httpx.ProblemContentType || f.search.count() != 1 {
		t.Fatalf("101-byte query: status %d %q, search calls %d; want 400 problem and no call", w.Code, w.Header().Get("Content-Type"), f.search.count())
	}
}

// catalogNotReady and searchNotReady are what the fixture's parts say while they are not ready.
const (
	catalogNotReady = "Rebuilding the search index from the database: 3 of 9 movies compared."
	searchNotReady  = "The search index is catching up: 12 events behind."
)

// TestReadyzFollowsBackends: the gateway is ready when search is. A catalog that is not ready (its database
// restarting) or does not answer leaves it ready, saying it is degraded and why, as a part that says it is
// degraded does; a search that is not ready takes it out, saying why. With ReadyWaitsForCatalog (the
// all-in-one) its first ready also waits for the catalog, naming why it is not ready (a rebuild's
// progress).
func TestReadyzFollowsBackends(t *testing.T) {
	for _, waits := range []bool{false, true} {
		t.Run(fmt.Sprintf("waits for the catalog %v", waits), func(t *testing.T) {
			f := newFixture(t, Options{ReadyWaitsForCatalog: waits})
			set := func(catalog, search bool, degraded string) {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.catalogReady, f.searchReady, f.searchDegraded = catalog, search, degraded
			}
			readyz := func(wantCode int, want ...string) {
				t.Helper()
				w := f.do(t, "GET", "/readyz", "", "")
				if w.Code != wantCode {
					t.Fatalf("readyz = %d %s, want %d", w.Code, w.Body, wantCode)
				}
				for _, s := range want {
					if !strings.Contains(w.Body.String(), s) {
						t.Fatalf("readyz = %d %s, want it to say %q", w.Code, w.Body, s)
					}
				}
			}
			set(false, true, "")
			if waits {
				readyz(http.StatusServiceUnavailable, "The catalog service is not ready: "+catalogNotReady)
				// Search stays ready once it has caught up; the first ready also needs it to hold what the
				// catalog has published by then.
				set(true, true, "")
				f.mu.Lock()
				f.searchStale = true
				f.mu.Unlock()
				readyz(http.StatusServiceUnavailable, "The search service is not ready: it is indexing")
				f.mu.Lock()
				f.searchStale = false
				f.mu.Unlock()
				set(false, true, "")
			} else {
				readyz(http.StatusOK, `"status":"degraded"`, "The catalog service is not ready: "+catalogNotReady)
			}
			set(true, false, "")
			readyz(http.StatusServiceUnavailable, "The search service is not ready: "+searchNotReady)
			set(true, true, "")
			readyz(http.StatusOK, `"status":"ready"`)

			set(false, true, "")
			readyz(http.StatusOK, `"status":"degraded"`, "The catalog service is not ready: "+catalogNotReady)
			f.mu.Lock()
			f.catalogHangs = true
			f.mu.Unlock()
			readyz(http.StatusOK, `"status":"degraded"`, "The catalog service did not say")
			f.mu.Lock()
			f.catalogHangs = false
			f.mu.Unlock()
			set(true, true, "The search index is 5000 events behind.")
			readyz(http.StatusOK, `"status":"degraded"`, "The search service is degraded: The search index is 5000 events behind.")
			set(true, false, "")
			readyz(http.StatusServiceUnavailable, "The search service is not ready: "+searchNotReady)
			set(true, true, "")
			readyz(http.StatusOK, `"status":"ready"`)
		})
	}
}

func TestUnreachableBackendIsUnavailable(t *testing.T) {
	dead, _ := url.Parse("http://127.0.0.1:1") // nothing listens on port 1
	log := slog.New(slog.DiscardHandler)
	gw := NewHandler(log, Backends{Catalog: NewProxy(log, "catalog", dead, CatalogTimeout, ""), Search: NewProxy(log, "search", dead, SearchTimeout, "")}, Options{})
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/v1/movies?q=x", ""},
		{"POST", "/v1/auth/token", ""},
		{"GET", "/v1/movies?q=x", userKey}, // the key cannot be checked
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{}`))
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		gw.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Content-Type") != httpx.ProblemContentType {
			t.Fatalf("%s %s: status %d %q, want 503 problem", tc.method, tc.path, w.Code, w.Header().Get("Content-Type"))
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
	f := newFixture(t, Options{})
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
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// doHeader sends a request with a raw Authorization header.
func (f *fixture) doHeader(t testing.TB, method, path, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", authorization)
	w := httptest.NewRecorder()
	f.gw.ServeHTTP(w, r)
	return w
}

func TestMetrics(t *testing.T) {
	reg := httpx.NewRegistry()
	const token = "scrape-0123456789abcdef"
	o := Options{RateLimits: RateLimits{Off: true}, HTTPMetrics: httpx.NewMetrics(reg), Metrics: httpx.MetricsHandler(reg), MetricsToken: token}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	gw := NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: ok, Search: ok}, o)
	for range 3 {
		gw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/movies/42", nil))
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	gw.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	want := `marquee_http_request_duration_seconds_count{code="2xx",method="GET",part="gateway",route="/v1/movies/:id"} 3`
	if !strings.Contains(w.Body.String(), want) {
		t.Errorf("metrics lack %s:\n%s", want, w.Body)
	}
	for name, authorization := range map[string]string{"anonymous": "", "wrong token": "Bearer scrape-0123456789abcdeX", "token as basic": "Basic " + token} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		gw.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("GET /metrics as %s: %d, want 401", name, w.Code)
		}
	}
	// The metrics token opens /metrics only.
	r = httptest.NewRequest(http.MethodGet, "/v1/users", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	if w := httptest.NewRecorder(); func() int { gw.ServeHTTP(w, r); return w.Code }() != http.StatusUnauthorized {
		t.Errorf("the metrics token opened /v1/users: %d", w.Code)
	}
}

// TestMetricsAreBounded: no request, whatever its method or path, and rate-limited or not, adds a series.
func TestMetricsAreBounded(t *testing.T) {
	reg := httpx.NewRegistry()
	const token = "scrape-0123456789abcdef"
	o := Options{HTTPMetrics: httpx.NewMetrics(reg), Metrics: httpx.MetricsHandler(reg), MetricsToken: token} // rate limits on
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	gw := NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: ok, Search: ok}, o)
	rnd := mrand.New(mrand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, 1+rnd.IntN(12))
		for i := range b {
			b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_!~"[rnd.IntN(30)]
		}
		return string(b)
	}
	send := func(n int) {
		for range n {
			path := []string{"/v1/movies", "/v1/movies/1", "/metrics", "/" + word()}[rnd.IntN(4)]
			gw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(word(), path, nil))
		}
	}
	series := func() (int, int) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		gw.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", w.Code)
		}
		n := 0
		for line := range strings.Lines(w.Body.String()) {
			if strings.HasPrefix(line, "marquee_http_") {
				n++
			}
		}
		return n, w.Body.Len()
	}
	send(100)
	series() // a scrape is counted once it is over: the next one shows its series
	before, sizeBefore := series()
	send(2000)
	after, sizeAfter := series()
	if after != before || sizeAfter > sizeBefore+sizeBefore/20 {
		t.Fatalf("2,000 requests with random methods grew the metrics from %d series (%d bytes) to %d (%d bytes)", before, sizeBefore, after, sizeAfter)
	}
}
