package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var assetRef = regexp.MustCompile(`"(/assets/[^"]+)"`)

func TestIndex(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/", "/index.html"} {
		r := get(t, h, "GET", path, nil)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s = %d", path, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Fatalf("GET %s Content-Type = %q", path, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Fatalf("GET %s Cache-Control = %q, want no-cache (the page names the current assets)", path, cc)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Fatalf("GET %s Content-Security-Policy = %q", path, csp)
		}
		page := body(t, r)
		if !strings.Contains(page, `data-app="marquee"`) || !strings.Contains(page, `role="combobox"`) {
			t.Fatalf("GET %s is not the search page:\n%s", path, page)
		}
	}
}

// TestIndexNamesFingerprintedAssets checks that the page refers to every asset by its fingerprinted name and
// that each such name is served, immutable, with the right type.
func TestIndexNamesFingerprintedAssets(t *testing.T) {
	h := Handler()
	page := body(t, get(t, h, "GET", "/", nil))
	refs := assetRef.FindAllStringSubmatch(page, -1)
	want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	seen := map[string]bool{}
	for _, m := range refs {
		path := m[1]
		ext := filepath.Ext(path)
		seen[ext] = true
		if !regexp.MustCompile(`\.[0-9a-f]{10}\.[a-z]+$`).MatchString(path) {
			t.Errorf("page refers to %s, which is not fingerprinted", path)
			continue
		}
		r := get(t, h, "GET", path, nil)
		if r.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, r.StatusCode)
			continue
		}
		if got := r.Header.Get("Content-Type"); got != want[ext] {
			t.Errorf("GET %s Content-Type = %q, want %q", path, got, want[ext])
		}
		if got := r.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s Cache-Control = %q, want a year, immutable", path, got)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s lacks nosniff", path)
		}
	}
	for ext := range want {
		if !seen[ext] {
			t.Errorf("the page refers to no %s asset", ext)
		}
	}
}

func TestPlainAssetNamesRevalidate(t *testing.T) {
	h := Handler()
	r := get(t, h, "GET", "/assets/app.js", nil)
	if r.StatusCode != 200 {
		t.Fatalf("GET /assets/app.js = %d", r.StatusCode)
	}
	if got := r.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Fatalf("Content-Type = %q", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-cache" {
		t.Fatalf("Cache-Control = %q, want no-cache", got)
	}
	etag := r.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{10}"$`).MatchString(etag) {
		t.Fatalf("ETag = %q", etag)
	}
	again := get(t, h, "GET", "/assets/app.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET = %d, want 304", again.StatusCode)
	}
	if n := len(body(t, again)); n != 0 {
		t.Fatalf("304 carried %d bytes", n)
	}
	head := get(t, h, "HEAD", "/assets/app.css", nil)
	if head.StatusCode != 200 || head.Header.Get("Content-Type") != "text/css; charset=utf-8" || len(body(t, head)) != 0 {
		t.Fatalf("HEAD = %d %q", head.StatusCode, head.Header.Get("Content-Type"))
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/assets/nope.js", "/assets/", "/assets/app.0000000000.js", "/assets/../web.go", "/elsewhere"} {
		r := get(t, h, "GET", path, nil)
		if r.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", path, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("GET %s Content-Type = %q, want problem+json", path, ct)
		}
	}
	r := get(t, h, "POST", "/", nil)
	if r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST / = %d Allow=%q", r.StatusCode, r.Header.Get("Allow"))
	}
}

// TestScriptParses runs node --check on the page's script, when node is installed.
func TestScriptParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI must check the page's JavaScript")
		}
		t.Skip("node is not installed: the page's JavaScript was not syntax-checked")
	}
	src, err := static.ReadFile("static/assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "app.js")
	if err := os.WriteFile(file, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", file).CombinedOutput(); err != nil {
		t.Fatalf("node --check app.js: %v\n%s", err, out)
	}
}

// TestScriptInsertsNoHTML guards the page against cross-site scripting: server data goes in as text only.
func TestScriptInsertsNoHTML(t *testing.T) {
	src, err := static.ReadFile("static/assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(src), sink) {
			t.Errorf("app.js uses %s; build nodes with el() and textContent instead", sink)
		}
	}
}
