package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSession is issue 24's story: a session expired mid-edit keeps the form and saves after
// renewal. With one-minute access tokens, an admin signs in, opens a movie's edit form and types; a new tab
// is signed in too (the session is a cookie, not the tab's storage); once the first access token has
// expired, the save goes through without a sign-in. Then the admin signs out in the other tab, which ends
// the session: saving the next edit opens the sign-in dialog over the form, the typed values are still
// there, and once signed in the save goes through.
func TestBrowserSession(t *testing.T) {
	const (
		ttl    = time.Minute      // the shortest token_ttl allowed
		leeway = 30 * time.Second // what verifiers allow past a token's expiry (pkg/authn)
	)
	c, b := seedPageWith(t, map[string]string{"MARQUEE_TOKEN_TTL": ttl.String()}, 4*time.Minute)
	user, password := browserUser, browserPassword

	// 1. The admin signs in and starts editing Metropolis. A token issued alongside the page's shows when
	// the page's has expired.
	b.open("/?q=metropolis")
	b.waitJS("Metropolis first", settled+` && document.querySelector('#results .card')?.dataset.title === 'Metropolis'`)
	b.do(chromedp.Click(chromedp.ID("login-button")))
	b.waitJS("the sign-in dialog", `document.getElementById('login-dialog').open`)
	c.login(user, password)
	b.do(chromedp.SendKeys(chromedp.ID("login-username"), user), chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")))
	b.waitJS("the signed-in bar", `!document.getElementById('login-dialog').open && !document.getElementById('admin-bar').hidden`)
	signedIn := time.Now() // both tokens were issued before
	b.do(chromedp.Click(chromedp.CSS(`#results .card a`)))
	b.waitJS("the movie details with admin actions", `document.getElementById('movie-dialog').open && document.getElementById('edit-movie') !== null`)
	b.do(chromedp.Click(chromedp.ID("edit-movie")))
	b.waitJS("the edit form", `document.getElementById('edit-dialog').open && document.getElementById('f-title').value === 'Metropolis'`)
	const newTitle = "Metropolis (restored)"
	b.do(chromedp.Click(chromedp.ID("f-title")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("f-title"), newTitle))

	// 2. A new tab of the same browser is signed in.
	tab := b.newTab()
	tab.open("/")
	tab.waitJS("the new tab signed in", fmt.Sprintf(`!document.getElementById('admin-bar').hidden && document.getElementById('who').textContent === %q`, user))

	// 3. The admin pauses until the first access token has expired, then saves: no sign-in is asked for.
	time.Sleep(time.Until(signedIn.Add(ttl + leeway + 2*time.Second)))
	if r := c.do("GET", "/v1/users", nil, nil); r.status != 401 {
		t.Fatalf("a token issued with the page's still works: GET /v1/users answered %d; the wait is too short", r.status)
	}
	b.do(chromedp.Click(chromedp.ID("edit-submit")))
	b.waitJS("the saved movie in its details", fmt.Sprintf(
		`!document.getElementById('edit-dialog').open && !document.getElementById('login-dialog').open && document.getElementById('movie-title')?.textContent === %q && document.querySelector('#movie-body article').dataset.version === '2'`, newTitle))
	b.screenshot("12-saved-after-renewal")

	// 4. The admin edits again; meanwhile the other tab signs out, which revokes the session and signs out
	// every tab. Saving asks for the password over the form, which keeps what was typed, and then saves.
	b.do(chromedp.Click(chromedp.ID("edit-movie")))
	b.waitJS("the edit form at version 2", fmt.Sprintf(`document.getElementById('edit-dialog').open && document.getElementById('f-title').value === %q`, newTitle))
	const tagline = "The mediator between head and hands must be the heart."
	b.do(chromedp.Click(chromedp.ID("f-tagline")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("f-tagline"), tagline))
	tab.do(chromedp.Click(chromedp.ID("logout-button")))
	tab.waitJS("the other tab signed out", `document.getElementById('admin-bar').hidden && !document.getElementById('login-button').hidden`)
	b.waitJS("this tab signed out too, the form still open", `document.getElementById('admin-bar').hidden && document.getElementById('edit-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("edit-submit")))
	b.waitJS("the sign-in dialog over the kept form", fmt.Sprintf(
		`document.getElementById('login-dialog').open && document.getElementById('edit-dialog').open && document.getElementById('f-tagline').value === %q && document.getElementById('f-title').value === %q`, tagline, newTitle))
	b.screenshot("13-sign-in-over-the-form")
	b.do(chromedp.Click(chromedp.ID("login-username")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("login-username"), user),
		chromedp.SendKeys(chromedp.ID("login-password"), password), chromedp.Click(chromedp.ID("login-submit")))
	b.waitJS("the save after signing in", `!document.getElementById('login-dialog').open && !document.getElementById('edit-dialog').open && document.querySelector('#movie-body article')?.dataset.version === '3'`)
	c.login(user, password)
	var saved struct {
		Title   string `json:"title"`
		Tagline string `json:"tagline"`
	}
	id := evaluate[int64](b, `Number(document.querySelector('#movie-body article').dataset.id)`)
	c.must(200, "GET", fmt.Sprintf("/v1/movies/%d?min_version=3", id), nil, nil).json(t, &saved)
	if saved.Title != newTitle || saved.Tagline != tagline {
		t.Fatalf("the catalog holds %+v, want the title and tagline typed", saved)
	}
	b.checkConsole()
	tab.checkConsole()
}

// newTab opens another tab of b's browser: the same cookies and storage, its own page.
func (b *browser) newTab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	tab := &browser{t: b.t, ctx: ctx, base: b.base, artifacts: b.artifacts}
	if err := chromedp.Listen(ctx, func(ev any) {
		if m, ok := consoleProblem(ev); ok {
			tab.mu.Lock()
			tab.problems = append(tab.problems, m)
			tab.mu.Unlock()
		}
	}); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	tab.do(chromedp.EmulateViewport(1280, 860))
	return tab
}
