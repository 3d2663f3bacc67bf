package gateway

import (
	"net/http"
	"testing"
)

func TestCORS(t *testing.T) {
	o := noLimits
	o.CORSOrigins = []string{"https://admin.example"}
	f := newFixture(t, o)
	preflight := func(origin, method, path string) *http.Response {
		w := f.do(t, "OPTIONS", path, "", "", "Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", "authorization")
		return w.Result()
	}
	for _, tc := range []struct {
		name, origin, method, path string
		status                     int
		allowOrigin                string
	}{
		{"read from anywhere", "https://fan.example", "GET", "/v1/movies", 204, "*"},
		{"one movie from anywhere", "https://fan.example", "GET", "/v1/movies/3", 204, "*"},
		{"suggest from anywhere", "https://fan.example", "GET", "/v1/suggest", 204, "*"},
		{"write from anywhere", "https://evil.example", "POST", "/v1/movies", 403, ""},
		{"delete from anywhere", "https://evil.example", "DELETE", "/v1/movies/3", 403, ""},
		{"admin read from anywhere", "https://evil.example", "GET", "/v1/users", 403, ""},
		{"login from anywhere", "https://evil.example", "POST", "/v1/auth/token", 403, ""},
		{"write from a configured origin", "https://admin.example", "PUT", "/v1/movies/3", 204, "https://admin.example"},
		{"import from a configured origin", "https://admin.example", "POST", "/v1/imports", 204, "https://admin.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := preflight(tc.origin, tc.method, tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != tc.allowOrigin {
				t.Fatalf("Allow-Origin %q, want %q", got, tc.allowOrigin)
			}
			if tc.status == 204 && (res.Header.Get("Access-Control-Allow-Methods") != tc.method || res.Header.Get("Access-Control-Allow-Headers") == "") {
				t.Fatalf("preflight headers %v", res.Header)
			}
			if res.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials allowed")
			}
		})
	}
	t.Run("actual read", func(t *testing.T) {
		w := f.do(t, "GET", "/v1/movies?q=x", "", "", "Origin", "https://fan.example")
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Expose-Headers") == "" {
			t.Fatalf("status %d, headers %v", w.Code, w.Header())
		}
	})
	t.Run("actual write from elsewhere gets no CORS headers", func(t *testing.T) {
		w := f.do(t, "POST", "/v1/movies", f.admin, "{}", "Origin", "https://evil.example")
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("headers %v", w.Header())
		}
	})
	t.Run("no CORS for writes without configured origins", func(t *testing.T) {
		g := newFixture(t, noLimits)
		w := g.do(t, "OPTIONS", "/v1/movies", "", "", "Origin", "https://admin.example", "Access-Control-Request-Method", "POST")
		if w.Code != 403 || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("status %d, headers %v", w.Code, w.Header())
		}
	})
}
