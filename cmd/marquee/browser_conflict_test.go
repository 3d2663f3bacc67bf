package main

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserConflict edits movies in the page while someone else changes them through the API. A change to
// other fields is merged and saved with the page's; a field both changed shows both values and saves
// nothing until the person chooses between them, as often as it happens; a movie deleted meanwhile says so.
func TestBrowserConflict(t *testing.T) {
	c, b := seedPage(t)
	user, password := browserUser, browserPassword
	c.login(user, password)

	// Signing in through the page, as TestBrowser does: the form's saves carry the page's own token.
	b.open("/")
	b.do(chromedp.Click(chromedp.ID("login-button")))
	b.waitJS("the sign-in dialog", `document.getElementById('login-dialog').open`)
	b.do(chromedp.SendKeys(chromedp.ID("login-username"), user), chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")))
	b.waitJS("the signed-in bar", `!document.getElementById('admin-bar').hidden`)

	type movie struct {
		Title    string `json:"title"`
		Tagline  string `json:"tagline"`
		Overview string `json:"overview"`
		Version  int64  `json:"version"`
	}
	get := func(id, version int64) movie {
		t.Helper()
		var m movie
		c.must(200, "GET", fmt.Sprintf("/v1/movies/%d?min_version=%d", id, version), nil, nil).json(t, &m)
		return m
	}
	// edit opens the movie's edit form in the page; it returns the id, and the version the form is based on.
	edit := func(title string) (id, version int64) {
		t.Helper()
		hits := c.search("q=" + url.QueryEscape(title)).Hits
		if len(hits) == 0 || hits[0].Title != title {
			t.Fatalf("%q is not the first hit: %+v", title, hits)
		}
		b.open(fmt.Sprintf("/?q=%s#movie/%d", url.QueryEscape(title), hits[0].ID))
		b.waitJS("the movie details with admin actions", `document.getElementById('movie-dialog').open && document.getElementById('edit-movie') !== null`)
		b.do(chromedp.Click(chromedp.ID("edit-movie")))
		b.waitJS("the edit form", fmt.Sprintf(`document.getElementById('edit-dialog').open && document.getElementById('f-title').value === %q`, title))
		return hits[0].ID, hits[0].Version
	}
	patch := func(id, version int64, fields map[string]any) {
		t.Helper()
		c.must(200, "PATCH", fmt.Sprintf("/v1/movies/%d", id), fields, map[string]string{"If-Match": fmt.Sprintf(`"%d"`, version)})
	}
	toasted := func(text string) string {
		return fmt.Sprintf(`[...document.querySelectorAll('#toasts .toast')].some((t) => t.textContent === %q)`, text)
	}

	// 1. Someone else changes the tagline while the person writes an overview: saving merges the two.
	{
		id, v := edit("The Wizard of Oz")
		const overview = "A tornado carries a Kansas farm girl to a land of witches."
		b.do(chromedp.Click(chromedp.ID("f-overview")), chromedp.SendKeys(chromedp.ID("f-overview"), overview))
		const tagline = "There is no place like home."
		patch(id, v, map[string]any{"tagline": tagline}) // someone else, meanwhile

		// The merge refills the form from what was sent: while it reads their version (slowed down here),
		// the fields take no typing that it would then drop.
		evaluate[bool](b, fmt.Sprintf(`(() => { const f = window.fetch; window.fetch = (u, o) => String(u) === '/v1/movies/%d' ?
			new Promise((r) => setTimeout(r, 800)).then(() => f(u, o)) : f(u, o); return true; })()`, id))
		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("the fields read-only while merging", `document.getElementById('f-overview').readOnly && document.getElementById('f-title').readOnly`)
		// Nor can the form be closed under the save, which would go on into a closed or another movie's form.
		b.do(chromedp.KeyEvent(kb.Escape))
		if evaluate[bool](b, `!document.getElementById('edit-dialog').open || !document.querySelector('#edit-form [data-close]').disabled`) {
			t.Fatal("the edit form could be closed while its save merged")
		}
		b.waitJS("the merged save", `!document.getElementById('edit-dialog').open && !document.getElementById('f-overview').readOnly && `+
			toasted(fmt.Sprintf("Merged with the change root made to Tagline meanwhile; saved version %d.", v+2)))
		if got := get(id, v+2); got.Tagline != tagline || got.Overview != overview || got.Version != v+2 {
			t.Fatalf("after the merge the movie is %+v, want their tagline and the page's overview at version %d", got, v+2)
		}
	}

	// 2. Someone else renames the movie (and adds a tagline) while the person renames it too: saving shows both
	// titles and saves nothing; the person keeps theirs and saves on top of the other version.
	{
		id, v := edit("Star Wars")
		const mine, theirs, tagline = "Star Wars: A New Hope", "Star Wars (1977)", "A long time ago in a galaxy far, far away."
		b.do(chromedp.Click(chromedp.ID("f-title")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("f-title"), mine))
		patch(id, v, map[string]any{"title": theirs, "tagline": tagline})

		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("both titles, with a choice between them", fmt.Sprintf(`document.getElementById('edit-dialog').open`+
			` && document.querySelector('#c-title del')?.textContent === %q && document.querySelector('#c-title ins')?.textContent === %q`+
			` && document.querySelector('#c-title th')?.textContent === 'Theirs (version %d, by root)'`+
			` && document.getElementById('keep-mine-title') !== null && document.getElementById('take-theirs-title') !== null`, theirs, mine, v+1))
		// The title is marked and described by the conflict, and has the focus; their tagline is in the form.
		b.waitJS("the marked title, focused, beside their tagline", fmt.Sprintf(`document.activeElement.id === 'f-title'`+
			` && document.getElementById('f-title').getAttribute('aria-invalid') === 'true'`+
			` && document.getElementById('f-title').getAttribute('aria-describedby').split(' ').includes('c-title')`+
			` && document.getElementById('f-title').value === %q && document.getElementById('f-tagline').value === %q`, mine, tagline))
		b.screenshot("11-conflict")
		if got := get(id, v+1); got.Title != theirs || got.Version != v+1 {
			t.Fatalf("a conflict saved something: the movie is %+v, want their title at version %d", got, v+1)
		}

		b.do(chromedp.Click(chromedp.ID("keep-mine-title")))
		b.waitJS("the decided conflict", `document.getElementById('c-title') === null && document.activeElement.id === 'edit-submit'`+
			` && !document.getElementById('f-title').hasAttribute('aria-invalid')`)
		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("the save on top of theirs", `!document.getElementById('edit-dialog').open && `+
			toasted(fmt.Sprintf("Merged with the change root made to Tagline meanwhile; saved version %d.", v+2)))
		if got := get(id, v+2); got.Title != mine || got.Tagline != tagline || got.Version != v+2 {
			t.Fatalf("after keeping mine the movie is %+v, want my title and their tagline at version %d", got, v+2)
		}
	}

	// 3. Someone renames the movie again while the person decides: the save merges again and shows the
	// newer title; the person takes theirs, and the overview the person wrote is saved with it.
	{
		id, v := edit("Casablanca")
		const mine, theirs, again = "Casablanca (1942)", "Casablanca, Morocco", "Casablanca: As Time Goes By"
		const overview = "A nightclub owner in Casablanca meets the woman who left him."
		b.do(chromedp.Click(chromedp.ID("f-title")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("f-title"), mine),
			chromedp.Click(chromedp.ID("f-overview")), chromedp.SendKeys(chromedp.ID("f-overview"), overview))
		patch(id, v, map[string]any{"title": theirs})
		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("the first conflict", fmt.Sprintf(`document.querySelector('#c-title del')?.textContent === %q`, theirs))
		patch(id, v+1, map[string]any{"title": again})
		b.do(chromedp.Click(chromedp.ID("keep-mine-title")), chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("the second conflict, with the newer title", fmt.Sprintf(`document.getElementById('edit-dialog').open`+
			` && document.querySelector('#c-title del')?.textContent === %q && document.querySelector('#c-title ins')?.textContent === %q`+
			` && document.getElementById('f-overview').value === %q`, again, mine, overview))
		b.do(chromedp.Click(chromedp.ID("take-theirs-title")))
		b.waitJS("their title in the form", fmt.Sprintf(`document.getElementById('c-title') === null && document.getElementById('f-title').value === %q`, again))
		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("the save on top of the newer version", `!document.getElementById('edit-dialog').open && `+
			toasted(fmt.Sprintf("Merged with the change root made to Title meanwhile; saved version %d.", v+3)))
		if got := get(id, v+3); got.Title != again || got.Overview != overview || got.Version != v+3 {
			t.Fatalf("after taking theirs the movie is %+v, want their newer title and my overview at version %d", got, v+3)
		}
	}

	// 4. A movie deleted meanwhile: the save says so and leaves the form as the person wrote it.
	{
		id, v := edit("Psycho")
		const mine = "Psycho (1960)"
		b.do(chromedp.Click(chromedp.ID("f-title")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.SendKeys(chromedp.ID("f-title"), mine))
		c.must(204, "DELETE", fmt.Sprintf("/v1/movies/%d", id), nil, map[string]string{"If-Match": fmt.Sprintf(`"%d"`, v)})
		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitJS("the deletion explained", fmt.Sprintf(`document.getElementById('edit-dialog').open && document.getElementById('f-title').value === %q`+
			` && document.getElementById('edit-error').textContent.includes('This movie was deleted after you opened it; nothing was saved.')`, mine))
	}
	b.checkConsole()
}
