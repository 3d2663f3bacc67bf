package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// rendered is what testdata/render_docs.js saw of the page, rendered and tried against a fake DOM and server.
type rendered struct {
	Articles     []string
	Forms        int
	TOCLinks     int `json:"tocLinks"`
	Intro        string
	Prefilled    []string          // ids of inputs and text areas that held a value before anyone typed
	Placeholders map[string]string // by id
	PlainURL     string            // what a plain try of GET /v1/movies fetched

	TokenBox, TokenNotice, TokenCurl string // after a try of POST /v1/auth/token
	SentAuthorization, SearchCurl    string // after a try of GET /v1/movies?q=<b> that answers HTML
	SearchBody, SearchResult         string
	Elements                         []string // the tags the page created
}

// renderDocs runs the page's script in node against a fake DOM and the real document.
func renderDocs(t *testing.T) rendered {
	t.Helper()
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
	var got rendered
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("render output %q: %v", out, err)
	}
	return got
}

// TestDocsPageRendersEveryOperation checks that every operation is rendered, with a Try it form and a link in
// the table of contents, and that the forms start empty with the examples as placeholders: a prefilled
// min_version made a plain search wait 2 s for a version that never comes.
func TestDocsPageRendersEveryOperation(t *testing.T) {
	got := renderDocs(t)
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
	if len(got.Prefilled) > 0 {
		t.Fatalf("fields filled before anyone typed: %v", got.Prefilled)
	}
	for id, want := range map[string]string{"searchMovies-query-min_version": "603:2", "searchMovies-query-q": "godfater", "createToken-body": `"username": "admin"`} {
		if !strings.Contains(got.Placeholders[id], want) {
			t.Errorf("placeholder of %s = %q, want the example %q", id, got.Placeholders[id], want)
		}
	}
	if got.PlainURL != "/v1/movies" {
		t.Fatalf("a plain try fetched %q, want /v1/movies and no parameters", got.PlainURL)
	}
}

// TestDocsTryIt checks what a try shows: the token from POST /v1/auth/token goes into the Authorization box
// and with the next try, the curl line quotes what was sent but not the token nor a password, and a response body is text,
// cut short when huge.
func TestDocsTryIt(t *testing.T) {
	got := renderDocs(t)
	if got.TokenBox != "tok-123" || !strings.Contains(got.TokenNotice, "Authorization box") {
		t.Fatalf("after POST /v1/auth/token the box holds %q and the page says %q", got.TokenBox, got.TokenNotice)
	}
	if want := `--data-binary '{"username":"o'\''neil","password":"…"}'`; !strings.Contains(got.TokenCurl, want) || strings.Contains(got.TokenCurl, "s me") ||
		!strings.HasPrefix(got.TokenCurl, "curl -sS -i -X POST 'http://localhost:8080/v1/auth/token'") {
		t.Fatalf("curl line\n%s\nwant the URL and the body quoted for the shell, its password left out, %s", got.TokenCurl, want)
	}
	if got.SentAuthorization != "Bearer tok-123" {
		t.Fatalf("the next try sent Authorization %q", got.SentAuthorization)
	}
	if !strings.Contains(got.SearchCurl, "'http://localhost:8080/v1/movies?q=%3Cb%3E'") ||
		!strings.Contains(got.SearchCurl, `-H "Authorization: Bearer $MARQUEE_TOKEN"`) || strings.Contains(got.SearchCurl, "tok-123") {
		t.Fatalf("curl line\n%s\nwant the URL with its query and the token as $MARQUEE_TOKEN", got.SearchCurl)
	}
	if !strings.HasPrefix(got.SearchBody, "<script>alert(1)</script>xxx") || len(got.SearchBody) != 100000 ||
		!strings.Contains(got.SearchResult, "Showing the first 100000 of 200025 characters") || !strings.Contains(got.SearchResult, "text/html") {
		t.Fatalf("the HTML body is shown as %d characters starting %.40q; result %.300q", len(got.SearchBody), got.SearchBody, got.SearchResult)
	}
	if slices.Contains(got.Elements, "script") {
		t.Fatal("the response body made a <script> element")
	}
}
