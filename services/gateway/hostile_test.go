package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"marquee/pkg/authn"
	"marquee/pkg/httpx"
)

// A long bearer credential is the client's mistake: 401 without asking the catalog, never a 5xx.
func TestLongBearerIsUnauthorized(t *testing.T) {
	f := newFixture(t, noLimits)
	for _, n := range []int{65, 1 << 10, 4 << 10, 6 << 10, 8 << 10, 8<<10 + 1, 16 << 10} {
		for _, prefix := range []string{apiKeyPrefix, "ey"} {
			tok := prefix + strings.Repeat("A", n-len(prefix))
			w := f.doHeader(t, "GET", "/v1/users", "Bearer "+tok)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s… of %d bytes: %d %s", prefix, n, w.Code, w.Body)
			}
		}
	}
	if n := f.introspectionCount(); n != 0 {
		t.Fatalf("the catalog was asked about %d over-long keys", n)
	}
}

// Every GET route answers HEAD as GET does, headers and status alike, without a body.
func TestHEADOnEveryGETRoute(t *testing.T) {
	f := newFixture(t, noLimits)
	for _, r := range routes {
		if r.method != "GET" {
			continue
		}
		path := concretePath(r.path)
		t.Run(path, func(t *testing.T) {
			get := f.do(t, "GET", path, f.admin, "")
			head := f.do(t, "HEAD", path, f.admin, "")
			if head.Code != get.Code || head.Code == http.StatusMethodNotAllowed {
				t.Fatalf("HEAD %s = %d, GET = %d", path, head.Code, get.Code)
			}
			if head.Body.Len() != 0 {
				t.Fatalf("HEAD %s sent a body of %d bytes", path, head.Body.Len())
			}
			if head.Header().Get("Content-Type") != get.Header().Get("Content-Type") {
				t.Fatalf("HEAD %s Content-Type %q, GET %q", path, head.Header().Get("Content-Type"), get.Header().Get("Content-Type"))
			}
		})
	}
}

// Answers of the gateway itself and of its backends tell browsers not to sniff, once.
func TestNoSniff(t *testing.T) {
	f := newFixture(t, noLimits)
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/healthz", ""}, {"GET", "/v1/users", ""}, {"GET", "/nope", ""}, {"PATCH", "/healthz", ""},
		{"GET", "/v1/movies/1", ""}, {"GET", "/openapi.json", ""}, {"GET", "/v1/users", f.admin},
	} {
		w := f.do(t, tc.method, tc.path, tc.token, "")
		if got := w.Header().Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options = %q", tc.method, tc.path, w.Code, got)
		}
	}
}

// A token signed with a key the catalog rotated in just now is accepted at once: the gateway fetches the
// keys again for a key id it does not know, instead of waiting for a timer.
func TestTokenOfAJustRotatedKey(t *testing.T) {
	pub1, priv1, _ := ed25519.GenerateKey(rand.Reader)
	pub2, priv2, _ := ed25519.GenerateKey(rand.Reader)
	var mu sync.Mutex
	jwks := authn.JWKS{Keys: []authn.JWK{authn.PublicJWK("k1", pub1)}}
	catalog := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/auth/jwks.json" {
			mu.Lock()
			defer mu.Unlock()
			httpx.WriteJSON(w, http.StatusOK, jwks)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"users": []any{}})
	})
	gw := NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: catalog, Search: catalog}, noLimits)
	get := func(key ed25519.PrivateKey, kid string) int {
		tok, err := authn.NewSigner(kid, key, 60e9).Issue(authn.Principal{Subject: "ada", Role: authn.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/v1/users", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, r)
		return w.Code
	}
	if code := get(priv1, "k1"); code != http.StatusOK {
		t.Fatalf("token of the first key: %d", code)
	}
	mu.Lock()
	jwks.Keys = append(jwks.Keys, authn.PublicJWK("k2", pub2))
	mu.Unlock()
	if code := get(priv2, "k2"); code != http.StatusOK {
		t.Fatalf("token of the key rotated in: %d, want 200", code)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if code := get(other, "k3"); code != http.StatusUnauthorized {
		t.Fatalf("token of an unpublished key: %d, want 401", code)
	}
}

// The catalog learns the client's address from the gateway, never from the client: a client cannot pose
// as another to dodge or aim the login throttling.
func TestClientIPHeaderIsTheGateways(t *testing.T) {
	var seen []string
	catalog := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get(clientIPHeader))
		httpx.WriteJSON(w, http.StatusOK, map[string]string{})
	})
	gw := NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: catalog, Search: catalog}, noLimits)
	r := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader(`{}`))
	r.RemoteAddr = "203.0.113.5:4321"
	r.Header.Set(clientIPHeader, "198.51.100.7")
	gw.ServeHTTP(httptest.NewRecorder(), r)
	if len(seen) != 1 || seen[0] != "203.0.113.5" {
		t.Fatalf("the catalog saw client %q, want 203.0.113.5", seen)
	}
}

// A revoked admin token or key loses the admin routes whose backend checks no credential (search's index
// rebuild) once the gateway's short cache of the catalog's answer expires.
func TestRevokedCredentialOnSearchAdminRoutes(t *testing.T) {
	f := newFixture(t, noLimits)
	for _, cred := range []string{f.admin, adminKey} {
		if w := f.do(t, "GET", "/v1/index/rebuild", cred, ""); w.Code != http.StatusOK {
			t.Fatalf("before the revocation: %d %s", w.Code, w.Body)
		}
	}
	f.mu.Lock()
	f.revoked = map[string]bool{f.admin: true, adminKey: true}
	f.mu.Unlock()
	f.clock.advance(DefaultConfig().KeyCacheTTL + time.Millisecond)
	for _, cred := range []string{f.admin, adminKey} {
		if w := f.do(t, "GET", "/v1/index/rebuild", cred, ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("after the revocation: %d %s", w.Code, w.Body)
		}
	}
	if got := DefaultConfig().KeyCacheTTL; got > time.Second {
		t.Fatalf("key_cache_ttl defaults to %v: a revocation would take longer than a second", got)
	}
}
