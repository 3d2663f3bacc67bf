package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects a running command's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a marquee command started by startCommand.
type running struct {
	stdout, stderr *syncBuffer
	stop           func() error // cancels the command and returns what run returned
}

// startCommand runs `marquee args…` in process, as main would, until the test ends or stop is called.
func startCommand(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, r.stdout, r.stderr) }()
	var once sync.Once
	var err error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("marquee %s did not stop within 30s", args[0])
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("marquee %s: %v\nstderr:\n%s", args[0], err, r.stderr)
		}
	})
	return r
}

// waitFor polls cond until it holds or the deadline passes; it returns the last failure for the message.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var listeningRE = regexp.MustCompile(`https?://(127\.0\.0\.1:\d+)`)

// addrOf waits for a command to say where it listens (the line that names its URL) and returns the base URL.
func addrOf(t *testing.T, out *syncBuffer, marker string) string {
	t.Helper()
	var base string
	waitFor(t, "the listening address", 30*time.Second, func() error {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, marker) {
				if m := listeningRE.FindStringSubmatch(line); m != nil {
					base = "http://" + m[1]
					return nil
				}
			}
		}
		return fmt.Errorf("no %q line yet in:\n%s", marker, out)
	})
	return base
}

// client talks to a Marquee gateway.
type client struct {
	t     *testing.T
	base  string
	token string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (c *client) do(method, path string, body any, header map[string]string) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) must(status int, method, path string, body any, header map[string]string) response {
	c.t.Helper()
	r := c.do(method, path, body, header)
	if r.status != status {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, status, r.body)
	}
	return r
}

func (c *client) login(username, password string) {
	c.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	c.token = ""
	c.must(200, "POST", "/v1/auth/token", map[string]string{"username": username, "password": password}, nil).json(c.t, &tok)
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		c.t.Fatalf("token answer = %+v", tok)
	}
	c.token = tok.AccessToken
}

type hit struct {
	ID        int64    `json:"id"`
	Title     string   `json:"title"`
	Directors []string `json:"directors"`
	Genres    []string `json:"genres"`
	Rating    *float64 `json:"rating"`
	Version   int64    `json:"version"`
	Score     float64  `json:"score"`
}

type searchResult struct {
	Total   int   `json:"total"`
	Page    int   `json:"page"`
	PerPage int   `json:"per_page"`
	Hits    []hit `json:"hits"`
	Facets  map[string][]struct {
		Value string `json:"value"`
		Count int    `json:"count"`
	} `json:"facets"`
}

func (c *client) search(query string) searchResult {
	c.t.Helper()
	var res searchResult
	c.must(200, "GET", "/v1/movies?"+query, nil, nil).json(c.t, &res)
	return res
}

// waitSearch polls a search until check accepts its result: writes become searchable a moment later.
func (c *client) waitSearch(what, query string, check func(searchResult) error) searchResult {
	c.t.Helper()
	return c.waitSearchFor(15*time.Second, what, query, check)
}

// waitSearchFor is waitSearch with a deadline, for bulk loads.
func (c *client) waitSearchFor(timeout time.Duration, what, query string, check func(searchResult) error) searchResult {
	c.t.Helper()
	var res searchResult
	waitFor(c.t, what, timeout, func() error {
		res = c.search(query)
		return check(res)
	})
	return res
}

func firstHit(title string, version int64) func(searchResult) error {
	return func(r searchResult) error {
		if len(r.Hits) == 0 || r.Hits[0].Title != title || r.Hits[0].Version != version {
			return fmt.Errorf("want %q v%d first, got %+v", title, version, r.Hits)
		}
		return nil
	}
}

// exerciseCatalog is the walking skeleton's story, told against any running gateway: search the seed with a
// typo, log in, add a movie and find it misspelled, update it, delete it and see it gone.
func exerciseCatalog(t *testing.T, c *client, adminUser, adminPassword string, seeded int) {
	// Anonymous reads: the seed is there, typos are forgiven, genres are counted.
	all := c.search("per_page=5")
	if all.Total != seeded || all.Page != 1 || all.PerPage != 5 || len(all.Hits) != min(5, seeded) {
		t.Fatalf("browse: total=%d page=%d per_page=%d hits=%d, want total %d", all.Total, all.Page, all.PerPage, len(all.Hits), seeded)
	}
	if seeded > 0 {
		if res := c.search("q=" + url.QueryEscape("the godfater")); len(res.Hits) == 0 || res.Hits[0].Title != "The Godfather" {
			t.Fatalf("typo search: %+v", res.Hits)
		}
		if len(all.Facets["genres"]) == 0 {
			t.Fatal("browse has no genre facet")
		}
	}

	// Writes need an admin.
	movie := map[string]any{"title": "Zyxwovutsrqp Chronicles", "year": 2031, "directors": []string{"Ada Lovelace"},
		"genres": []string{"Sci-Fi", " Drama "}, "rating": 7.5, "popularity": 12, "overview": "A test film about testing."}
	c.must(401, "POST", "/v1/movies", movie, nil)
	c.login(adminUser, adminPassword)
	var created hit
	r := c.must(201, "POST", "/v1/movies", movie, nil)
	r.json(t, &created)
	if created.ID == 0 || created.Version != 1 || r.header.Get("ETag") != `"1"` || r.header.Get("Location") != fmt.Sprintf("/v1/movies/%d", created.ID) {
		t.Fatalf("create: %+v ETag=%q Location=%q", created, r.header.Get("ETag"), r.header.Get("Location"))
	}
	if strings.Join(created.Genres, "|") != "Science Fiction|Drama" {
		t.Fatalf("genres not trimmed and in their canonical spelling: %q", created.Genres)
	}

	// Invalid input changes nothing and says why.
	bad := c.must(400, "POST", "/v1/movies", map[string]any{"title": " ", "rating": 11}, nil)
	if ct := bad.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("invalid create answered %q", ct)
	}

	// Found a moment later, misspelled.
	c.waitSearch("the new movie to be searchable", "q="+url.QueryEscape("zyxwovutsrqq chronicles"), firstHit("Zyxwovutsrqp Chronicles", 1))
	path := fmt.Sprintf("/v1/movies/%d", created.ID)
	var got hit
	c.must(200, "GET", path, nil, nil).json(t, &got)
	if got.Title != created.Title || got.Version != 1 {
		t.Fatalf("get: %+v", got)
	}

	// Update with If-Match; a stale version is refused and changes nothing.
	movie["title"] = "Zyxwovutsrqp Chronicles Redux"
	movie["rating"] = 8.25
	var updated hit
	c.must(200, "PUT", path, movie, map[string]string{"If-Match": `"1"`}).json(t, &updated)
	if updated.Version != 2 || updated.Title != "Zyxwovutsrqp Chronicles Redux" {
		t.Fatalf("update: %+v", updated)
	}
	c.must(412, "PUT", path, map[string]any{"title": "Lost update"}, map[string]string{"If-Match": `"1"`})
	res := c.waitSearch("the update to be searchable", "q=redux", firstHit("Zyxwovutsrqp Chronicles Redux", 2))
	if res.Hits[0].Rating == nil || *res.Hits[0].Rating != 8.25 {
		t.Fatalf("updated rating: %+v", res.Hits[0])
	}

	// PATCH changes only what it names; null removes a field; a stale If-Match changes nothing.
	var patched struct {
		hit
		Year    *int   `json:"year"`
		Tagline string `json:"tagline"`
	}
	c.must(200, "PATCH", path, map[string]any{"tagline": "Some movies never end.", "year": nil},
		map[string]string{"If-Match": `"2"`, "Content-Type": "application/merge-patch+json"}).json(t, &patched)
	if patched.Version != 3 || patched.Tagline != "Some movies never end." || patched.Year != nil || patched.Title != "Zyxwovutsrqp Chronicles Redux" {
		t.Fatalf("patch: %+v", patched)
	}
	c.must(412, "PATCH", path, map[string]any{"title": "Lost"}, map[string]string{"If-Match": `"2"`, "Content-Type": "application/merge-patch+json"})

	// History says who changed what.
	var history struct {
		History []struct {
			Version int64                     `json:"version"`
			Action  string                    `json:"action"`
			Actor   string                    `json:"actor"`
			Changes map[string]map[string]any `json:"changes"`
		} `json:"history"`
	}
	c.must(200, "GET", path+"/history", nil, nil).json(t, &history)
	var users struct {
		Users []struct{ Actor, Username string } `json:"users"`
	}
	c.must(200, "GET", "/v1/users", nil, nil).json(t, &users)
	adminActor := ""
	for _, u := range users.Users {
		if u.Username == adminUser {
			adminActor = u.Actor
		}
	}
	if h := history.History; adminActor == "" || len(h) != 3 || h[0].Action != "created" || h[1].Action != "updated" || h[2].Changes["tagline"]["to"] != "Some movies never end." || h[2].Actor != adminActor {
		t.Fatalf("history: %+v", h)
	}

	// A retried create with the same Idempotency-Key answers the first time's movie, once.
	retry := map[string]any{"title": "Idempotent Film", "year": 1999}
	key := map[string]string{"Idempotency-Key": "e2e-" + fmt.Sprint(created.ID)}
	first := c.must(201, "POST", "/v1/movies", retry, key)
	again := c.must(201, "POST", "/v1/movies", retry, key)
	if string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s / %s (replayed %q)", first.body, again.body, again.header.Get("Idempotent-Replayed"))
	}
	c.must(422, "POST", "/v1/movies", map[string]any{"title": "Another body"}, key)
	var once hit
	first.json(t, &once)

	// A machine client's API key works until it is revoked.
	var apiKey struct {
		ID  int64  `json:"id"`
		Key string `json:"key"`
	}
	c.must(201, "POST", "/v1/keys", map[string]string{"name": "e2e robot", "role": "admin"}, nil).json(t, &apiKey)
	robot := &client{t: t, base: c.base, token: apiKey.Key}
	robot.must(204, "DELETE", fmt.Sprintf("/v1/movies/%d", once.ID), nil, nil)
	c.must(204, "DELETE", fmt.Sprintf("/v1/keys/%d", apiKey.ID), nil, nil)
	waitFor(t, "the revoked key to be refused", 15*time.Second, func() error {
		if r := robot.do("GET", "/v1/movies?q=x", nil, nil); r.status != 401 {
			return fmt.Errorf("status %d", r.status)
		}
		return nil
	})

	// Delete; gone from search and from reads.
	c.must(204, "DELETE", path, nil, map[string]string{"If-Match": `"3"`})
	c.waitSearch("the deleted movie to leave search", "q=zyxwovutsrqp", func(r searchResult) error {
		if r.Total != 0 {
			return fmt.Errorf("still found: %+v", r.Hits)
		}
		return nil
	})
	c.must(404, "GET", path, nil, nil)
	c.must(404, "PUT", path, movie, nil)

	// A user added through the API may read but not write.
	c.must(201, "POST", "/v1/users", map[string]string{"username": "reader", "password": "reading all day long", "role": "user"}, nil)
	c.login("reader", "reading all day long")
	c.must(403, "POST", "/v1/movies", movie, nil)
	c.must(403, "GET", "/v1/users", nil, nil)
	attack(t, c.base, c.token)
	c.token = ""
	if total := c.search("per_page=1").Total; total != seeded {
		t.Fatalf("after delete: total %d, want %d", total, seeded)
	}
}

func TestAllInOne(t *testing.T) {
	dir := t.TempDir()
	seed, err := filepath.Abs("../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	// Rate limits are the gateway's own tests' business; these stories poll faster than anonymous limits allow.
	env := map[string]string{"MARQUEE_ADMIN_USERNAME": "root", "MARQUEE_ADMIN_PASSWORD": "correct horse battery staple", "MARQUEE_RATE_LIMIT": "off"}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--seed", seed}

	m := startCommand(t, env, args...)
	c := &client{t: t, base: addrOf(t, m.stdout, "serving on")}
	waitFor(t, "readiness", 60*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d: %s", r.status, r.body)
		}
		return nil
	})
	// Ready means the whole seed is searchable, with both movies of each duplicated title.
	if total := c.search("per_page=1").Total; total != 248 {
		t.Fatalf("seed: %d movies searchable once ready, want 248", total)
	}
	if oz := c.search("q=" + url.QueryEscape(`wizard of oz`) + "&per_page=5"); countTitle(oz, "The Wizard of Oz") != 2 {
		t.Fatalf("both Wizards of Oz must be kept: %+v", oz.Hits)
	}
	exerciseCatalog(t, c, "root", "correct horse battery staple", 248)
	if err := m.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, m.stderr)
	}

	// A restart on the same folder ingests nothing twice and serves the same catalog.
	m = startCommand(t, env, args...)
	c = &client{t: t, base: addrOf(t, m.stdout, "serving on")}
	waitFor(t, "readiness after restart", 60*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d", r.status)
		}
		return nil
	})
	if total := c.search("per_page=1").Total; total != 248 {
		t.Fatalf("after restart: %d movies, want 248", total)
	}
	c.login("root", "correct horse battery staple")
}

func countTitle(r searchResult, title string) int {
	n := 0
	for _, h := range r.Hits {
		if h.Title == title {
			n++
		}
	}
	return n
}

// TestAllInOneGeneratesAdmin checks the first start without configured credentials: it creates "admin" with
// a random password, prints it once, stores it where it says, and the password works.
func TestAllInOneGeneratesAdmin(t *testing.T) {
	dir := t.TempDir()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--seed", "", "--rate-limit", "off"}
	m := startCommand(t, nil, args...)
	c := &client{t: t, base: addrOf(t, m.stdout, "serving on")}
	file := filepath.Join(dir, "admin-password")
	var password string
	waitFor(t, "the generated password file", 10*time.Second, func() error {
		b, err := os.ReadFile(file)
		password = strings.TrimSpace(string(b))
		return err
	})
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file mode: %v %v", fi.Mode(), err)
	}
	out := m.stdout.String()
	if len(password) < 16 || !strings.Contains(out, password) || !strings.Contains(out, file) {
		t.Fatalf("stdout must show the password once and where it is stored:\n%s", out)
	}
	waitFor(t, "readiness", 30*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d", r.status)
		}
		return nil
	})
	exerciseCatalog(t, c, "admin", password, 0)
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	m = startCommand(t, nil, args...)
	addrOf(t, m.stdout, "serving on")
	if strings.Contains(m.stdout.String(), password) {
		t.Fatal("the password was printed again on restart")
	}
}
