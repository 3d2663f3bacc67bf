package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDocs tries the API from /docs in headless Chromium against the real all-in-one: a plain search
// sends no parameters, a search shows its body and the curl line that repeats it, a token from
// POST /v1/auth/token lands in the Authorization box and opens an admin call, and a bad request shows its
// problem+json body.
func TestBrowserDocs(t *testing.T) {
	c, b := seedPage(t)
	user, password := browserUser, browserPassword
	b.open("/docs")
	b.waitJS("the operations", `document.getElementById('searchMovies-send') !== null && document.getElementById('createToken-body') !== null`)
	// Note every URL the page fetches, to see what a try really sends.
	evaluate[bool](b, `(() => { window.sent = []; const f = window.fetch; window.fetch = (u, o) => (window.sent.push(String(u)), f(u, o)); return true; })()`)
	result := func(op string) string { return fmt.Sprintf(`document.getElementById('%s-result').textContent`, op) }

	// 1. A plain try of the search sends no parameters: no example min_version to wait for.
	b.do(chromedp.Click(chromedp.ID("searchMovies-send")))
	b.waitJS("the plain search's answer", `document.getElementById('searchMovies-response-body') !== null`)
	if got := evaluate[string](b, `window.sent.join(' ')`); got != "/v1/movies" {
		t.Fatalf("a plain try fetched %q, want /v1/movies alone", got)
	}

	// 2. A search shows its status, body and curl line.
	b.do(chromedp.SendKeys(chromedp.ID("searchMovies-query-q"), "godfather"), chromedp.Click(chromedp.ID("searchMovies-send")))
	b.waitJS("The Godfather in the response body", `document.getElementById('searchMovies-response-body')?.textContent.includes('"title": "The Godfather"')`)
	if got, want := evaluate[string](b, `document.getElementById('searchMovies-curl').textContent`), "'"+c.base+"/v1/movies?q=godfather'"; !strings.Contains(got, want) {
		t.Fatalf("curl line %q, want the URL %s", got, want)
	}
	if got := evaluate[string](b, `document.getElementById('searchMovies-status').textContent`); !strings.HasPrefix(got, "Status 200") || !strings.Contains(got, " ms") {
		t.Fatalf("status line %q, want the status and the time taken", got)
	}
	// Headless Chromium may refuse the clipboard; then the button selects the line for Ctrl+C instead.
	b.do(chromedp.Click(chromedp.ID("searchMovies-copy")))
	b.waitJS("the curl line copied or selected", `document.getElementById('searchMovies-copy').textContent === 'Copied' || getSelection().toString() === document.getElementById('searchMovies-curl').textContent`)
	evaluate[bool](b, `(document.getElementById('searchMovies-status').scrollIntoView(), true)`) // the answer and its curl line in view
	b.screenshot("13-docs-try")

	// 3. A token from POST /v1/auth/token fills the Authorization box, and an admin call then succeeds.
	b.do(chromedp.SendKeys(chromedp.ID("createToken-body"), fmt.Sprintf(`{"username": %q, "password": %q}`, user, password)),
		chromedp.Click(chromedp.ID("createToken-send")))
	b.waitJS("the token in the Authorization box", `document.getElementById('auth-token').value.length > 20 && document.getElementById('createToken-token-notice') !== null`)
	if box, sent := evaluate[string](b, `document.getElementById('auth-token').value`), evaluate[string](b, `JSON.parse(document.getElementById('createToken-response-body').textContent).access_token`); box != sent {
		t.Fatalf("the Authorization box holds %q, the response's token is %q", box, sent)
	}
	b.do(chromedp.Click(chromedp.ID("listUsers-send")))
	b.waitJS("the admin call's answer", `document.getElementById('listUsers-status')?.textContent.startsWith('Status 200')`)

	// 4. A bad request shows its problem+json body.
	b.do(chromedp.SendKeys(chromedp.ID("searchMovies-query-year_min"), "abc"), chromedp.Click(chromedp.ID("searchMovies-send")))
	b.waitJS("the problem", `document.getElementById('searchMovies-status')?.textContent.startsWith('Status 400') && `+result("searchMovies")+`.includes('application/problem+json')`)
	if body := evaluate[string](b, `document.getElementById('searchMovies-response-body').textContent`); !strings.Contains(body, `"status": 400`) || !strings.Contains(body, "year_min") {
		t.Fatalf("problem body %q, want the pretty-printed problem naming year_min", body)
	}
	b.screenshot("14-docs-problem")
	b.checkConsole()
}
