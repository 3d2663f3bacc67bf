package gateway

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newSearchOnly is a gateway whose search backend answers every read with body (JSON) and the catalog
// with 503.
func newSearchOnly(t *testing.T, body string) http.Handler {
	t.Helper()
	search := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"1"`)
		_, _ = io.WriteString(w, body)
	})
	catalog := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	return NewHandler(slog.New(slog.DiscardHandler), Backends{Catalog: catalog, Search: search}, noLimits)
}

func TestCompressAndCacheHeaders(t *testing.T) {
	big := `{"hits":"` + strings.Repeat("movie ", 500) + `"}`
	tests := []struct {
		name, body, accept, ifNoneMatch string
		wantStatus                      int
		wantGzip                        bool
	}{
		{"big body, gzip accepted", big, "gzip, deflate", "", 200, true},
		{"big body, gzip refused", big, "gzip;q=0, deflate", "", 200, false},
		{"big body, no gzip", big, "", "", 200, false},
		{"tiny body", `{"hits":[]}`, "gzip", "", 200, false},
		{"not modified", big, "gzip", `"1"`, 304, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := newSearchOnly(t, tt.body)
			r := httptest.NewRequest("GET", "/v1/movies?q=x", nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Encoding", tt.accept)
			}
			if tt.ifNoneMatch != "" {
				r.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			w := httptest.NewRecorder()
			gw.ServeHTTP(w, r)
			if got := w.Code; got != tt.wantStatus {
				t.Fatalf("status=%d, want %d", got, tt.wantStatus)
			}
			if got, want := w.Header().Get("Cache-Control"), cachePublic; got != want {
				t.Errorf("Cache-Control=%q, want %q", got, want)
			}
			gzipped := w.Header().Get("Content-Encoding") == "gzip"
			if gzipped != tt.wantGzip {
				t.Fatalf("gzip=%v, want %v", gzipped, tt.wantGzip)
			}
			if tt.wantStatus != 200 {
				if w.Body.Len() != 0 {
					t.Errorf("body of %d bytes on %d", w.Body.Len(), w.Code)
				}
				return
			}
			got := w.Body.String()
			if gzipped {
				zr, err := gzip.NewReader(w.Body)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if got != tt.body {
				t.Errorf("body=%.40q…, want %.40q…", got, tt.body)
			}
		})
	}
}

// A HEAD answer is never gzipped: it has no body to compress, and its headers must match what a GET's
// uncompressed answer would say.
func TestHeadIsNotCompressed(t *testing.T) {
	gw := newSearchOnly(t, `{"hits":"`+strings.Repeat("movie ", 500)+`"}`)
	r := httptest.NewRequest("HEAD", "/v1/movies?q=x", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "" || w.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, Content-Encoding %q, %d body bytes; want 200, none, none",
			w.Code, w.Header().Get("Content-Encoding"), w.Body.Len())
	}
}

func TestCacheControlPrivateAndErrors(t *testing.T) {
	f := newFixture(t, noLimits)
	if got, want := f.do(t, "GET", "/v1/movies", f.user, "").Header().Get("Cache-Control"), cachePrivate; got != want {
		t.Errorf("user read: Cache-Control=%q, want %q", got, want)
	}
	if got := f.do(t, "GET", "/v1/movies/1?min_version=3", "", "").Header().Get("Cache-Control"); got != cachePrivate {
		t.Errorf("read waiting for a version: Cache-Control=%q, want %q", got, cachePrivate)
	}
	if got := f.do(t, "GET", "/v1/movies/1", "", "").Header().Get("Cache-Control"); got != cachePublic {
		t.Errorf("anonymous read: Cache-Control=%q, want %q", got, cachePublic)
	}
	if got := f.do(t, "GET", "/v1/movies", "garbage", "").Header().Get("Cache-Control"); got == cachePublic || got == cachePrivate {
		t.Errorf("refused read: Cache-Control=%q, want no cache policy of a read", got)
	}
}

// TestCacheControlFollowsSearch checks that an anonymous read keeps the Cache-Control and Age the search
// service sent (its staleness bound, which a CDN must not outlast), that a caller's read and one waiting for
// a version are private whatever search says, and that caches are told every header answers vary by.
func TestCacheControlFollowsSearch(t *testing.T) {
	f := newFixture(t, noLimits)
	const searchPolicy = "public, max-age=30, s-maxage=30, stale-while-revalidate=30"
	f.searchCacheControl = searchPolicy
	anon := f.do(t, "GET", "/v1/movies?q=x", "", "")
	if got := anon.Header().Get("Cache-Control"); got != searchPolicy {
		t.Errorf("anonymous read: Cache-Control=%q, want search's %q", got, searchPolicy)
	}
	if got := anon.Header().Get("Age"); got != "2" {
		t.Errorf("anonymous read: Age=%q, want search's 2", got)
	}
	for name, w := range map[string]*httptest.ResponseRecorder{
		"caller":      f.do(t, "GET", "/v1/movies?q=x", f.user, ""),
		"min_version": f.do(t, "GET", "/v1/movies?q=x&min_version=1:1", "", ""),
	} {
		if got := w.Header().Get("Cache-Control"); got != cachePrivate {
			t.Errorf("%s: Cache-Control=%q, want %q", name, got, cachePrivate)
		}
	}

	gw := newSearchOnly(t, `{"hits":[]}`)
	r := httptest.NewRequest("GET", "/v1/movies?q=x", nil)
	r.Header.Set("Origin", "https://example.com")
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, r)
	vary := strings.Join(w.Header().Values("Vary"), ", ")
	for _, h := range []string{"Origin", "Accept-Encoding", "Authorization"} {
		if !strings.Contains(vary, h) {
			t.Errorf("Vary=%q, want %s in it", vary, h)
		}
	}
}
