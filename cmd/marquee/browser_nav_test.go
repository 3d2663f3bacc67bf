package main

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Browser test accounts: the admin the all-in-one creates at its first start.
const browserUser, browserPassword = "root", "correct horse battery staple"

// seedPage starts the all-in-one on the seed with an admin, waits until it is ready, and opens a headless
// Chromium on its page.
func seedPage(t *testing.T) (*client, *browser) {
	t.Helper()
	return seedPageWith(t, nil, 90*time.Second)
}

// seedPageWith is seedPage with more of the server's environment, for a story that takes up to limit.
func seedPageWith(t *testing.T, env map[string]string, limit time.Duration) (*client, *browser) {
	t.Helper()
	needChromium(t)
	seed, err := filepath.Abs("../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"MARQUEE_ADMIN_USERNAME": browserUser, "MARQUEE_ADMIN_PASSWORD": browserPassword}
	maps.Copy(all, env)
	m := startCommand(t, all, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--seed", seed)
	c := &client{t: t, base: addrOf(t, m.stdout, "serving on")}
	waitFor(t, "readiness", 60*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d: %s", r.status, r.body)
		}
		return nil
	})
	return c, newBrowserFor(t, pageURL(t, c.base), limit)
}

// TestBrowserNavigation: the history, the focus and the filters behave as a person expects. Back returns to
// the query typed before, closing the details puts the focus back on the card, a person in the details
// becomes a filter without the details' entry in the history, an address the search cannot read names what
// is wrong, the default order says what it is, runtime and popularity are filters, and on a phone the open
// filters end with a button that shows the results, with nothing wider than the screen.
func TestBrowserNavigation(t *testing.T) {
	c, b := seedPage(t)
	apiTotal := func(query string) int {
		t.Helper()
		return c.search(query + "&per_page=1").Total
	}
	status := func(n int) string { return fmt.Sprintf(`document.getElementById('status').dataset.total === '%d'`, n) }
	address := func(param string) string {
		return evaluate[string](b, fmt.Sprintf(`new URLSearchParams(location.search).get(%q) ?? ''`, param))
	}

	// Typing makes one history entry: Back returns to the whole catalog, Forward to the query.
	b.open("/")
	b.waitJS("the whole seed", settled+" && "+status(248))
	if got := evaluate[string](b, `document.querySelector('#sort option[value=""]').textContent`); got != "Popularity" {
		t.Errorf("with no words the default order reads %q, want Popularity (what the API sorts by then)", got)
	}
	b.do(chromedp.Click(chromedp.ID("q")), chromedp.SendKeys(chromedp.ID("q"), "alien"))
	alien := apiTotal("q=alien")
	b.waitJS("the results for alien", settled+" && new URLSearchParams(location.search).get('q') === 'alien' && "+status(alien))
	if got := evaluate[string](b, `document.querySelector('#sort option[value=""]').textContent`); got != "Relevance" {
		t.Errorf("with words the default order reads %q, want Relevance", got)
	}
	b.do(chromedp.KeyEvent(kb.Escape))
	b.do(chromedp.NavigateBack())
	b.waitJS("Back to the whole catalog", settled+" && location.search === '' && document.getElementById('q').value === '' && "+status(248))
	b.do(chromedp.NavigateForward())
	b.waitJS("Forward to alien", settled+" && document.getElementById('q').value === 'alien' && "+status(alien))

	// Closing the details puts the focus on the card they were opened from.
	b.waitJS("a card", `document.querySelector('#results .card a.card-link') !== null`)
	first := evaluate[string](b, `document.querySelector('#results .card').dataset.id`)
	b.do(chromedp.Click(chromedp.CSS(`#results .card a.card-link`)))
	b.waitJS("the details", `document.getElementById('movie-dialog').open && document.querySelector('#movie-body article') !== null`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitJS("the focus back on the card", fmt.Sprintf(
		`!document.getElementById('movie-dialog').open && document.activeElement.matches('#results .card[data-id="%s"] a.card-link')`, first))

	// A person in the details is a filter; the details' entry does not stay behind in the history.
	b.do(chromedp.Click(chromedp.CSS(`#results .card a.card-link`)))
	b.waitJS("the details with the cast", `document.getElementById('movie-dialog').open && document.querySelector('#movie-body button.person') !== null`)
	person := evaluate[string](b, `document.querySelector('#movie-body button.person').textContent`)
	role := evaluate[string](b, `document.querySelector('#movie-body dt').textContent.startsWith('Director') ? 'director' : 'cast'`)
	b.do(chromedp.Click(chromedp.CSS(`#movie-body button.person`)))
	withPerson := apiTotal(role + "=" + url.QueryEscape(person))
	b.waitJS("the person's movies", fmt.Sprintf(settled+` && !document.getElementById('movie-dialog').open && location.hash === '' && new URLSearchParams(location.search).get(%q) === %q && `+status(withPerson), role, person))
	b.do(chromedp.NavigateBack())
	b.waitJS("Back to alien without the filter", settled+` && new URLSearchParams(location.search).get('q') === 'alien' && !location.search.includes('`+role+`=') && location.hash === '' && !document.getElementById('movie-dialog').open && `+status(alien))

	// An address the search cannot read says which value is wrong, and drops it on request.
	b.open("/?q=godfather&year_min=abc")
	b.waitJS("the invalid setting named", `document.querySelector('#empty:not([hidden]) li code')?.textContent === 'year_min=abc' && document.getElementById('drop-invalid') !== null`)
	b.screenshot("16-invalid-address")
	b.do(chromedp.Click(chromedp.ID("drop-invalid")))
	b.waitJS("the search without it", settled+` && location.search === '?q=godfather' && `+status(apiTotal("q=godfather")))

	// Runtime and popularity are filters, as in the API. The seed has no runtimes: three movies bring some.
	c.login(browserUser, browserPassword)
	for i, minutes := range []int{80, 85, 130} {
		c.must(201, "POST", "/v1/movies", map[string]any{"title": fmt.Sprintf("Runtime Probe %d", i), "runtime_minutes": minutes, "popularity": 10 + 80*(i%2)}, nil)
	}
	waitFor(t, "the probes to be searchable", 15*time.Second, func() error {
		if n := apiTotal("runtime_min=0"); n != 3 {
			return fmt.Errorf("%d movies with a runtime", n)
		}
		return nil
	})
	// The page browsed "/" a moment ago, before these writes made outside it: search may answer that browse
	// from its cache for cache_max_age after them. Past that bound the page's next browse holds them.
	time.Sleep(defaultServeConfig().Search.CacheMaxAge)
	b.open("/")
	b.waitJS("the runtime facet", `document.querySelector('#runtime-list button[data-value="<90"]') !== null`)
	b.do(chromedp.Click(chromedp.ID("genre-more")))
	b.waitJS("every genre", `document.getElementById('genre-more').getAttribute('aria-expanded') === 'true'`)
	if s := evaluate[string](b, sidewaysScroller); s != "" {
		t.Errorf("the sidebar scrolls sideways: %s", s)
	}
	b.do(chromedp.Click(chromedp.CSS(`#runtime-list button[data-value="<90"]`)))
	b.waitJS("the short movies", settled+` && `+status(2))
	if address("runtime_max") != "89" {
		t.Errorf("the address keeps runtime_max=%q, want 89", address("runtime_max"))
	}
	b.do(chromedp.SendKeys(chromedp.ID("popularity-min"), "50"), chromedp.KeyEvent(kb.Tab))
	b.waitJS("the popular short movie", settled+` && new URLSearchParams(location.search).get('popularity_min') === '50' && `+status(1)+
		` && document.querySelector('#results .card').dataset.title === 'Runtime Probe 1'`)
	const all = 251

	// On a phone: the open filters end with a button that shows the results; nothing is wider than the screen.
	b.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	b.open("/")
	b.waitJS("the phone layout", settled+` && `+status(all)+` && getComputedStyle(document.getElementById('filters-toggle')).display !== 'none'`)
	b.do(chromedp.Click(chromedp.ID("filters-toggle")))
	b.waitJS("the filters and their button", `document.querySelector('.filters').classList.contains('open') && document.getElementById('filters-done').offsetParent !== null && document.getElementById('filters-done').textContent === 'Show 251 movies'`)
	b.screenshot("17-phone-filters")
	for _, check := range []string{widestElement, sidewaysScroller} {
		if w := evaluate[string](b, check); w != "" {
			t.Errorf("on a phone the open filters are wider than the screen: %s", w)
		}
	}
	b.do(chromedp.Click(chromedp.ID("filters-done")))
	b.waitJS("the filters folded and the results focused", `!document.querySelector('.filters').classList.contains('open') && document.activeElement.id === 'results'`)

	// An admin's refused rating is shown, clear of the form's sticky buttons.
	b.do(chromedp.Click(chromedp.ID("login-button")))
	b.waitJS("the sign-in dialog", `document.getElementById('login-dialog').open`)
	b.do(chromedp.SendKeys(chromedp.ID("login-username"), browserUser), chromedp.SendKeys(chromedp.ID("login-password"), browserPassword),
		chromedp.Click(chromedp.ID("login-submit")))
	b.waitJS("signed in", `!document.getElementById('login-dialog').open && !document.getElementById('admin-bar').hidden`)
	b.do(chromedp.Click(chromedp.ID("new-button")))
	b.waitJS("the new-movie form", `document.getElementById('edit-dialog').open`)
	b.do(chromedp.SendKeys(chromedp.ID("f-title"), "Too Good"), chromedp.SendKeys(chromedp.ID("f-rating"), "11"))
	b.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('edit-dialog').scrollTop = 0`), chromedp.Click(chromedp.ID("edit-submit")))
	b.waitJS("the rating's message", `document.getElementById('e-rating').textContent !== ''`)
	b.waitJS("the message above the buttons", `(() => {
		const msg = document.getElementById('e-rating').getBoundingClientRect(), bar = document.querySelector('#edit-form .actions').getBoundingClientRect();
		return msg.height > 0 && msg.top >= 0 && msg.bottom <= bar.top;
	})()`)
	b.screenshot("18-phone-field-error")
	b.checkConsole()
}

// widestElement names the first element that reaches past the right edge of the page's viewport, or "".
const widestElement = `(() => {
	const w = document.documentElement.clientWidth;
	if (document.documentElement.scrollWidth <= w) return '';
	for (const n of document.querySelectorAll('body *')) {
		const r = n.getBoundingClientRect();
		if (r.width && r.right > w + 0.5) return n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + '.' + n.className + ' reaches ' + r.right + ' of ' + w;
	}
	return 'the page scrolls sideways (' + document.documentElement.scrollWidth + ' of ' + w + ')';
})()`

// sidewaysScroller names the first element that scrolls sideways (a horizontal scrollbar of its own), or "".
const sidewaysScroller = `(() => {
	for (const n of document.querySelectorAll('body *')) {
		const o = getComputedStyle(n).overflowX;
		if ((o === 'auto' || o === 'scroll') && n.scrollWidth > n.clientWidth) return n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + '.' + n.className + ' scrolls ' + (n.scrollWidth - n.clientWidth) + ' px sideways';
	}
	return '';
})()`
