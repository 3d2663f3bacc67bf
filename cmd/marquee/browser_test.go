package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"marquee/services/gateway/web"
)

// chromiumPath is Debian's Chromium, which the browser tests drive headless.
const chromiumPath = "/usr/bin/chromium"

// TestBrowser drives the web page in headless Chromium against the real all-in-one: a misspelled search finds
// the film, a genre facet narrows the results, and an admin signs in, renames a movie through the page and
// finds it under its new title. Each step leaves a screenshot in $MARQUEE_ARTIFACTS (default:
// artifacts/screenshots at the repository root); MARQUEE_UPDATE_SCREENSHOTS=1 also refreshes docs/screenshots.
func TestBrowser(t *testing.T) {
	c, b := seedPage(t)
	user, password := browserUser, browserPassword

	// 1. The page loads and shows the whole seed.
	b.open("/")
	b.waitJS("the first results", `document.querySelectorAll('#results .card:not(.skeleton)').length > 0`)
	if total := b.total(); total != 248 {
		t.Fatalf("the page shows %d movies, want the 248 of the seed", total)
	}
	b.screenshot("01-browse")

	// 2. Search as you type, misspelled: the film is found, and the suggestions answer the arrow keys.
	b.do(chromedp.Click(chromedp.ID("q")), chromedp.SendKeys(chromedp.ID("q"), "godfater"))
	b.waitJS(`"The Godfather" first for "godfater"`,
		`document.querySelector('#results .card')?.dataset.title === 'The Godfather' && new URLSearchParams(location.search).get('q') === 'godfater'`)
	b.waitJS("the suggestions", `!document.getElementById('suggestions').hidden`)
	b.do(chromedp.KeyEvent(kb.ArrowDown))
	b.waitJS("the first suggestion to be active",
		`document.getElementById('q').getAttribute('aria-activedescendant') === 'suggestion-0' && document.getElementById('suggestion-0').getAttribute('aria-selected') === 'true'`)
	b.screenshot("02-typo-search")
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitJS("the suggestions to close", `document.getElementById('suggestions').hidden && document.getElementById('q').getAttribute('aria-expanded') === 'false'`)

	// A person among the suggestions is a filter: choosing Steven Spielberg shows his films, not the words.
	b.open("/")
	b.waitJS("the first results", `document.querySelectorAll('#results .card:not(.skeleton)').length > 0`)
	b.do(chromedp.Click(chromedp.ID("q")), chromedp.SendKeys(chromedp.ID("q"), "steven spiel"))
	b.waitJS("the person suggestion", `[...document.querySelectorAll('#suggestions li')].some(li => li.textContent.startsWith('Steven Spielberg') && li.textContent.endsWith('director'))`)
	evaluate[bool](b, `([...document.querySelectorAll('#suggestions li')].find(li => li.textContent.startsWith('Steven Spielberg')).click(), true)`)
	b.waitJS("his films, by the director filter", `new URLSearchParams(location.search).get('director') === 'Steven Spielberg' && !new URLSearchParams(location.search).get('q') && document.getElementById('status').dataset.total === '6'`)

	// 3. A genre facet narrows the results to exactly the movies of that genre, as many as it counted.
	b.open("/")
	b.waitJS("the genre facet", `document.querySelector('#genre-list input[data-value="Crime"]') !== null`)
	before := b.total()
	crime := evaluate[int](b, `Number(document.querySelector('#genre-list input[data-value="Crime"]').closest('label').querySelector('.count').textContent)`)
	if crime <= 0 || crime >= before {
		t.Fatalf("the Crime facet counts %d of %d movies", crime, before)
	}
	b.do(chromedp.Click(chromedp.CSS(`#genre-list input[data-value="Crime"]`)))
	b.waitJS("the results to narrow to Crime", fmt.Sprintf(
		`document.getElementById('status').dataset.total === '%d' && [...document.querySelectorAll('#results .card')].every(c => c.dataset.genres.split('|').includes('Crime'))`, crime))
	if got := evaluate[string](b, `new URLSearchParams(location.search).getAll('genre').join(',')`); got != "Crime" {
		t.Fatalf("the address keeps genre=%q, want Crime", got)
	}
	b.screenshot("03-genre-facet")

	// A second genre widens the results to movies of either (the facet counts ignore their own filter, as
	// the API's genre_mode=any does); "All selected" narrows them to movies of both, and the address keeps it.
	// The page's "all" used to be sent as nothing, which the API reads as any: AND was out of reach.
	apiTotal := func(query string) int {
		t.Helper()
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](
			fmt.Sprintf(`fetch('/v1/movies?%s&per_page=1').then((r) => r.json()).then((r) => r.total)`, query), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("the API's total for %s: %v", query, err)
		}
		return n
	}
	either, both := apiTotal("genre=Crime&genre=Drama"), apiTotal("genre=Crime&genre=Drama&genre_mode=all")
	if !(both < crime && crime < either) {
		t.Fatalf("the seed's Crime and Drama: %d of both, %d Crime, %d of either; want fewer of both than Crime, more of either", both, crime, either)
	}
	b.do(chromedp.Click(chromedp.CSS(`#genre-list input[data-value="Drama"]`)))
	b.waitJS("the results of either genre", fmt.Sprintf(`document.getElementById('status').dataset.total === '%d' && !document.getElementById('genre-mode').hidden`, either))
	b.do(chromedp.Click(chromedp.CSS(`#genre-mode input[value="all"]`)))
	b.waitJS("the results of both genres", fmt.Sprintf(
		`document.getElementById('status').dataset.total === '%d' && [...document.querySelectorAll('#results .card')].every(c => ['Crime', 'Drama'].every(g => c.dataset.genres.split('|').includes(g)))`, both))
	if got := evaluate[string](b, `new URLSearchParams(location.search).get('genre_mode')`); got != "all" {
		t.Fatalf("the address keeps genre_mode=%q, want all", got)
	}
	b.do(chromedp.Reload())
	b.waitJS("both genres again after a reload", fmt.Sprintf(
		`document.getElementById('status').dataset.total === '%d' && document.querySelector('#genre-mode input[value="all"]').checked`, both))

	// 4. An admin signs in through the page.
	b.do(chromedp.Click(chromedp.ID("login-button")))
	b.waitJS("the sign-in dialog", `document.getElementById('login-dialog').open`)
	b.do(chromedp.SendKeys(chromedp.ID("login-username"), user), chromedp.SendKeys(chromedp.ID("login-password"), password))
	b.screenshot("04-sign-in")
	b.do(chromedp.Click(chromedp.ID("login-submit")))
	b.waitJS("the signed-in bar", fmt.Sprintf(
		`!document.getElementById('login-dialog').open && !document.getElementById('admin-bar').hidden && document.getElementById('who').textContent === %q`, user))

	// 5. The admin renames a movie in its details, and finds it by the new name.
	const newTitle = "Metropolis: The Marquee Cut"
	b.open("/?q=metropolis")
	b.waitJS("Metropolis first", settled+` && document.querySelector('#results .card')?.dataset.title === 'Metropolis'`)
	b.do(chromedp.Click(chromedp.CSS(`#results .card[data-title="Metropolis"] a`)))
	b.waitJS("the movie details with admin actions", `document.getElementById('movie-dialog').open && document.getElementById('edit-movie') !== null`)
	b.screenshot("05-movie-details")
	b.do(chromedp.Click(chromedp.ID("edit-movie")))
	b.waitJS("the edit form", `document.getElementById('edit-dialog').open && document.getElementById('f-title').value === 'Metropolis'`)
	b.do(chromedp.Click(chromedp.ID("f-title")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("f-title"), newTitle))
	b.screenshot("06-edit-movie")
	b.do(chromedp.Click(chromedp.ID("edit-submit")))
	b.waitJS("the saved movie in its details", fmt.Sprintf(
		`!document.getElementById('edit-dialog').open && document.getElementById('movie-title')?.textContent === %q && document.querySelector('#movie-body article').dataset.version === '2'`, newTitle))
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitJS("the details to close", `!document.getElementById('movie-dialog').open`)
	// The list of the same query shows the edit: the page asks for results that hold its write, not the
	// answer search cached for "metropolis" a moment before (cache_max_age).
	b.waitJS("the list to show the new title", fmt.Sprintf(settled+` && document.querySelector('#results .card')?.dataset.title === %q`, newTitle))
	b.do(chromedp.Click(chromedp.ID("q")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("q"), "marquee cut"))
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitJS("the new title to be searchable", fmt.Sprintf(settled+` && document.querySelector('#results .card')?.dataset.title === %q && document.getElementById('suggestions').hidden`, newTitle))
	b.screenshot("07-renamed-found")
	if res := c.search("q=" + url.QueryEscape("marquee cut")); len(res.Hits) == 0 || res.Hits[0].Title != newTitle || res.Hits[0].Version != 2 {
		t.Fatalf("the API does not agree with the page: %+v", res.Hits)
	}

	// 6. A field the catalog refuses is marked next to the field; a change made meanwhile by someone else to
	// other fields is merged with the page's, never overwritten (TestBrowserConflict has the fields both change).
	// (Cards are picked by title, not place: a search still landing could put another movie first.)
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#results .card[data-title=%q] a`, newTitle))))
	b.waitJS("the renamed movie's details", `document.getElementById('movie-dialog').open && document.getElementById('edit-movie') !== null`)
	b.do(chromedp.Click(chromedp.ID("edit-movie")))
	b.waitJS("the edit form at version 2", fmt.Sprintf(`document.getElementById('edit-dialog').open && document.getElementById('f-title').value === %q`, newTitle))
	id := evaluate[int64](b, `Number(document.querySelector('#movie-body article').dataset.id)`)
	b.do(chromedp.SendKeys(chromedp.ID("f-year"), "1"), chromedp.Click(chromedp.ID("edit-submit")))
	b.waitJS("the catalog's complaint next to the year", `document.getElementById('e-year').textContent.length > 0 && document.getElementById('f-year').getAttribute('aria-invalid') === 'true'`)
	b.screenshot("10-field-error")
	// Someone else changes the movie meanwhile; saving the page's copy (based on version 2) is refused.
	c.login(user, password)
	c.must(200, "PATCH", fmt.Sprintf("/v1/movies/%d", id), map[string]any{"rating": 9.1, "year": 1927}, map[string]string{"If-Match": `"2"`})
	const tagline = "The mediator between head and hands."
	b.do(chromedp.Click(chromedp.ID("f-year")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Delete),
		chromedp.Click(chromedp.ID("f-tagline")), chromedp.SendKeys(chromedp.ID("f-tagline"), tagline), chromedp.Click(chromedp.ID("edit-submit")))
	// The page merges its tagline with their rating and year, and saves on top of version 3.
	b.waitJS("the merged save on top of version 3", `!document.getElementById('edit-dialog').open && document.querySelector('#movie-body article')?.dataset.version === '4'`)
	var saved struct {
		Rating  *float64 `json:"rating"`
		Year    *int     `json:"year"`
		Tagline string   `json:"tagline"`
	}
	c.must(200, "GET", fmt.Sprintf("/v1/movies/%d?min_version=4", id), nil, nil).json(t, &saved)
	if saved.Rating == nil || *saved.Rating != 9.1 || saved.Year == nil || *saved.Year != 1927 || saved.Tagline != tagline {
		t.Fatalf("the other admin's change must survive the page's save: %+v", saved)
	}
	b.do(chromedp.KeyEvent(kb.Escape))

	// 7. The admin adds a movie, finds it, looks at its history, deletes it, and it is gone; an import answers
	// with its per-record summary (or says the server takes no imports yet).
	b.do(chromedp.Click(chromedp.ID("new-button")))
	b.waitJS("the new-movie form", `document.getElementById('edit-dialog').open && document.getElementById('f-title').value === ''`)
	b.do(chromedp.SendKeys(chromedp.ID("f-title"), "Zyzzyva Nights"), chromedp.SendKeys(chromedp.ID("f-year"), "2024"),
		chromedp.SendKeys(chromedp.ID("f-directors"), "Ada Lovelace, Grace Hopper"), chromedp.SendKeys(chromedp.ID("f-genres"), "Mystery, Drama"),
		chromedp.SendKeys(chromedp.ID("f-rating"), "7.2"), chromedp.Click(chromedp.ID("edit-submit")))
	b.waitJS("the form to close", `!document.getElementById('edit-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("q")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("q"), "zyzzyva"), chromedp.KeyEvent(kb.Enter))
	b.waitJS("the new movie to be searchable", settled+` && document.querySelector('#results .card')?.dataset.title === 'Zyzzyva Nights'`)
	b.do(chromedp.Click(chromedp.CSS(`#results .card[data-title="Zyzzyva Nights"] a`)))
	b.waitJS("its details", `document.getElementById('movie-title')?.textContent === 'Zyzzyva Nights' && document.getElementById('history-movie') !== null`)
	b.do(chromedp.Click(chromedp.ID("history-movie")))
	b.waitJS("its history", `document.getElementById('history-dialog').open && document.getElementById('history-body').textContent !== 'Loading…'`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitJS("the history to close", `!document.getElementById('history-dialog').open && document.getElementById('movie-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("delete-movie")))
	b.waitJS("the confirmation", `document.getElementById('confirm-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitJS("the movie to leave search", `!document.getElementById('movie-dialog').open && document.getElementById('status').dataset.total === '0'`)
	file := filepath.Join(t.TempDir(), "movies.json")
	if err := os.WriteFile(file, []byte(`[{"title":"Zyzzyva Returns","year":1999,"genres":["Drama"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(chromedp.ID("import-button")))
	b.waitJS("the import dialog", `document.getElementById('import-dialog').open`)
	b.do(chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{file}), chromedp.Click(chromedp.ID("import-submit")))
	b.waitJS("the import's answer", `document.querySelector('#import-summary .summary') !== null || !document.getElementById('import-error').hidden`)
	b.screenshot("12-import")
	b.do(chromedp.KeyEvent(kb.Escape))
	// The list behind it holds the import, not the answer search cached for "zyzzyva" before it.
	b.waitJS("the imported movie in the list", settled+` && document.getElementById('status').dataset.total === '1' && document.querySelector('#results .card')?.dataset.title === 'Zyzzyva Returns'`)

	// The same page in the dark and on a phone, for the README.
	b.media("dark")
	b.open("/?q=star")
	b.waitJS("the dark results", `document.querySelectorAll('#results .card').length > 0`)
	b.screenshot("08-dark")
	b.media("")
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open("/")
	b.waitJS("the phone layout", `document.querySelectorAll('#results .card:not(.skeleton)').length > 0 && getComputedStyle(document.getElementById('filters-toggle')).display !== 'none'`)
	b.screenshot("09-phone")
	b.checkConsole()
}

// needChromium skips the test without Chromium, loudly, and fails it under CI.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI must install Debian's chromium (apt-get install -y chromium) to run the browser tests", chromiumPath)
		}
		t.Skipf("%s is missing: browser tests skipped (apt-get install -y chromium to run them)", chromiumPath)
	}
}

// pageURL returns where the page is served: the gateway itself once it mounts web.Handler at "/"; until then,
// a front server that serves the page and passes everything else to the gateway, so the page still talks to
// the real all-in-one.
func pageURL(t *testing.T, gateway string) string {
	t.Helper()
	resp, err := http.Get(gateway + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return gateway
	}
	t.Logf("the gateway answers GET / with %d: serving the page from web.Handler in front of it", resp.StatusCode)
	target, err := url.Parse(gateway)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /assets/", page)
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)
	return front.URL
}

// browser is one headless Chromium tab on the page, with the helpers the story needs.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
	docs      string // where MARQUEE_UPDATE_SCREENSHOTS=1 copies the screenshots, else ""

	mu       sync.Mutex
	problems []string // uncaught exceptions and console errors of the page
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	return newBrowserFor(t, base, 90*time.Second)
}

// newBrowserFor is newBrowser for a story that needs up to limit, such as one that waits for a token to expire.
func newBrowserFor(t *testing.T, base string, limit time.Duration) *browser {
	t.Helper()
	b := &browser{t: t, base: base, artifacts: artifactsDir(t)}
	if os.Getenv("MARQUEE_UPDATE_SCREENSHOTS") == "1" {
		b.docs = filepath.Join(repoRoot(t), "docs", "screenshots")
		if err := os.MkdirAll(b.docs, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	profile := t.TempDir() // created before the browser starts, so removed after it stops
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
	}
	deadline, cancelDeadline := context.WithTimeout(context.Background(), limit)
	alloc, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelDeadline() })
	b.ctx = ctx
	if err := chromedp.Listen(ctx, func(ev any) {
		// Listen's func must return at once: it only records.
		if m, ok := consoleProblem(ev); ok {
			b.mu.Lock()
			b.problems = append(b.problems, m)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	b.do(chromedp.EmulateViewport(1280, 860))
	return b
}

func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); err == nil {
		path := filepath.Join(b.artifacts, "failure.png")
		if os.WriteFile(path, shot, 0o644) == nil {
			msg += "\nscreenshot of the failure: " + path
		}
	}
	if status, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('status')?.textContent + ' | ' + location.href`)); err == nil {
		msg += "\npage: " + status
	}
	b.mu.Lock()
	if len(b.problems) > 0 {
		msg += "\nconsole:\n  " + strings.Join(b.problems, "\n  ")
	}
	b.mu.Unlock()
	b.t.Fatal(msg)
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail("browser: %v", err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// settled is true when no search is in flight. A card found while one is (say, the as-you-type search for a
// prefix, answered just before the Enter) is replaced when it lands, and a click on it then fails.
const settled = `!document.getElementById('results').hasAttribute('aria-busy')`

// waitJS polls a JavaScript condition until it is true, for up to 15 s.
func (b *browser) waitJS(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fail("timed out waiting for %s (%s): %v", what, cond, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func evaluate[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// total is the number of movies the page says it found.
func (b *browser) total() int {
	b.t.Helper()
	return evaluate[int](b, `Number(document.getElementById('status').dataset.total)`)
}

// media emulates a color scheme ("dark", "light") or, with "", the system's.
func (b *browser) media(scheme string) {
	b.t.Helper()
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, p); err != nil {
		b.fail("emulate %q: %v", scheme, err)
	}
}

// screenshot saves the viewport as <name>.png among the artifacts (and in docs/screenshots when asked).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	time.Sleep(250 * time.Millisecond) // let transitions and the dialog animation settle
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot %s: %v", name, err)
	}
	for _, dir := range []string{b.artifacts, b.docs} {
		if dir == "" || (dir == b.docs && !readmeShots[name]) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// readmeShots are the screenshots that MARQUEE_UPDATE_SCREENSHOTS=1 copies to docs/screenshots for the README.
var readmeShots = map[string]bool{"01-browse": true, "02-typo-search": true, "03-genre-facet": true, "05-movie-details": true,
	"11-conflict": true, "08-dark": true, "09-phone": true, "13-docs-try": true, "16-invalid-address": true, "17-phone-filters": true}

// checkConsole fails the test if the page threw or logged an error.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Fatalf("the page reported errors:\n  %s", strings.Join(b.problems, "\n  "))
	}
}

// consoleProblem describes an uncaught exception or a console.error call of the page. Failed requests (such as
// a 404 from an endpoint the server does not offer yet) are handled by the page and are not problems.
func consoleProblem(ev any) (string, bool) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		return fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg), true
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			return fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")), true
		}
	}
	return "", false
}

// repoRoot is the repository's root folder, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// artifactsDir is where the screenshots go: $MARQUEE_ARTIFACTS, or artifacts/screenshots at the root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MARQUEE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}
