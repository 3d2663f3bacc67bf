package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestDocsPage(t *testing.T) {
	f := newFixture(t, noLimits)
	w := f.do(t, "GET", "/docs", "", "")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	body := w.Body.String()
	if !strings.Contains(body, `fetch("/openapi.json"`) {
		t.Fatal("the page does not load /openapi.json")
	}
	for _, banned := range []string{"http://", "https://", "//cdn", "<script src"} {
		if strings.Contains(body, banned) {
			t.Fatalf("the page refers to %q: it must be self-contained", banned)
		}
	}
	if strings.Count(body, "<script") != 1 || strings.Count(body, "<style") != 1 || strings.Contains(body, " style=") || regexp.MustCompile(`[{,]\s*style:`).MatchString(body) {
		t.Fatal("the page must have exactly one inline script and one style sheet, and no style attributes (the CSP allows those two by hash)")
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, tag := range []string{"script", "style"} {
		if !strings.Contains(csp, "'"+inlineHash(docsPage, tag)+"'") {
			t.Fatalf("CSP %q does not pin the %s's hash", csp, tag)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q allows unsafe sources", csp)
	}
}

// node returns the path of node, or skips the test saying why.
func node(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed; CI must check the docs page's script")
		}
		t.Skip("node is not installed: the docs page's script is not checked")
	}
	return path
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDocsScriptParses(t *testing.T) {
	nodePath := node(t)
	script := writeTemp(t, "docs.js", inline(docsPage, "script"))
	if out, err := exec.Command(nodePath, "--check", script).CombinedOutput(); err != nil {
		t.Fatalf("node --check: %v\n%s", err, out)
	}
}

// TestDocsPageRendersEveryOperation runs the page's script against a fake DOM and the real document, and
// checks that every operation is rendered, with a Try it form and a link in the table of contents.
func TestDocsPageRendersEveryOperation(t *testing.T) {
	nodePath := node(t)
	script := writeTemp(t, "docs.js", inline(docsPage, "script"))
	spec := writeTemp(t, "openapi.json", openAPI)
	var stderr bytes.Buffer
	cmd := exec.Command(nodePath, "testdata/render_docs.js", script, spec)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stderr.String())
	}
	var got struct {
		Articles []string
		Forms    int
		TOCLinks int `json:"tocLinks"`
		Intro    string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("render output %q: %v", out, err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct{ OperationID string }
			_ = json.Unmarshal(raw, &op)
			want = append(want, op.OperationID)
		}
	}
	sort.Strings(want)
	sort.Strings(got.Articles)
	if strings.Join(got.Articles, ",") != strings.Join(want, ",") {
		t.Fatalf("rendered operations\n%v\nwant\n%v", got.Articles, want)
	}
	if got.Forms != len(want) || got.TOCLinks != len(want) {
		t.Fatalf("%d forms and %d contents links for %d operations", got.Forms, got.TOCLinks, len(want))
	}
	if !strings.Contains(got.Intro, "problem") {
		t.Fatalf("intro = %q, want the document's description", got.Intro)
	}
}
