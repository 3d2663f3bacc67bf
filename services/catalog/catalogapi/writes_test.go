package catalogapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"marquee/pkg/events"
)

func (e *env) raw(t testing.TB, method, path, token string, body []byte, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // unless headers say otherwise
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

func mustMovie(t *testing.T, res response, status int) events.Movie {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d; body %s", res.status, status, res.body)
	}
	var m events.Movie
	mustJSON(t, res.body, &m)
	if got, want := res.header.Get("ETag"), fmt.Sprintf(`"%d"`, m.Version); got != want {
		t.Fatalf("ETag = %q, want %q", got, want)
	}
	return m
}

func TestPatch(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	body := matrix()
	body["tmdb_id"], body["imdb_id"], body["tagline"] = 603, "tt0133093", "Free your mind."
	m := mustMovie(t, e.do(t, "POST", "/v1/movies", admin, body), 201)
	mt := []string{"Content-Type", "application/merge-patch+json"}

	// Fields named change, null removes, others stay.
	res := e.raw(t, "PATCH", "/v1/movies/1", admin, []byte(`{"title":" The Matrix (1999) ","rating":null,"tmdb_id":null,"keywords":["cyberpunk"]}`), mt...)
	p := mustMovie(t, res, 200)
	if p.Title != "The Matrix (1999)" || p.Rating != nil || p.TMDBID != nil || p.Keywords[0] != "cyberpunk" || p.Version != 2 ||
		*p.IMDbID != "tt0133093" || *p.Year != 1999 || p.Tagline != "Free your mind." || len(p.Genres) != 2 {
		t.Fatalf("patched = %+v", p)
	}
	// application/json is accepted, and so is an If-Match of the current version.
	p = mustMovie(t, e.raw(t, "PATCH", "/v1/movies/1", admin, []byte(`{"tagline":null}`), "Content-Type", "application/json", "If-Match", `"2"`), 200)
	if p.Tagline != "" || p.Version != 3 {
		t.Fatalf("patched = %+v", p)
	}
	for _, tc := range []struct {
		name    string
		body    string
		headers []string
		status  int
		field   string
	}{
		{"stale If-Match", `{"year":2000}`, []string{"If-Match", `"2"`}, 412, ""},
		{"title removed", `{"title":null}`, nil, 400, "title"},
		{"unknown field", `{"budget":1}`, nil, 400, "budget"},
		{"server field", `{"version":9}`, nil, 400, "version"},
		{"invalid result", `{"year":1500}`, nil, 400, "year"},
		{"wrong type", `{"year":"1999"}`, nil, 400, ""},
		{"not an object", `[{"title":"x"}]`, nil, 400, ""},
		{"null patch", `null`, nil, 400, ""},
		{"empty", ``, nil, 400, ""},
		{"invalid UTF-8", "{\"title\":\"\xff\"}", nil, 400, ""},
		{"wrong media type", `{"year":2000}`, []string{"Content-Type", "text/plain"}, 415, ""},
		{"missing movie", `{"year":2000}`, []string{"X-Path", "/v1/movies/99"}, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/movies/1"
			headers := append([]string{}, mt...)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				if tc.headers[i] == "X-Path" {
					path = tc.headers[i+1]
					continue
				}
				headers = append(headers, tc.headers[i], tc.headers[i+1])
			}
			p := wantProblem(t, e.raw(t, "PATCH", path, admin, []byte(tc.body), headers...), tc.status)
			if tc.field != "" && p.Errors[tc.field] == "" {
				t.Errorf("no error for %s: %+v", tc.field, p)
			}
		})
	}
	got := mustMovie(t, e.do(t, "GET", "/v1/movies/1", "", nil), 200)
	if got.Version != 3 || got.ID != m.ID {
		t.Fatalf("rejected patches changed the movie: %+v", got)
	}
}

func TestPatchRace(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	mustMovie(t, e.do(t, "POST", "/v1/movies", admin, map[string]any{"title": "Race"}), 201)
	// Patches without If-Match of different fields all apply: one that loses a race is re-applied.
	var wg sync.WaitGroup
	fields := []string{`{"year":1999}`, `{"overview":"o"}`, `{"tagline":"t"}`, `{"runtime_minutes":90}`, `{"rating":5}`}
	for _, f := range fields {
		wg.Go(func() {
			if res := e.raw(t, "PATCH", "/v1/movies/1", admin, []byte(f), "Content-Type", "application/merge-patch+json"); res.status != 200 {
				t.Errorf("patch %s: %d %s", f, res.status, res.body)
			}
		})
	}
	wg.Wait()
	m := mustMovie(t, e.do(t, "GET", "/v1/movies/1", "", nil), 200)
	if m.Version != 6 || m.Year == nil || m.Overview != "o" || m.Tagline != "t" || m.RuntimeMinutes == nil || m.Rating == nil {
		t.Fatalf("after concurrent patches: %+v", m)
	}
}

// TestCreateSameFilm: a create that describes a stored film is refused, naming it, and changes nothing,
// unless the admin allows the duplicate; a year of its own makes it another film.
func TestCreateSameFilm(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	first := mustMovie(t, e.do(t, "POST", "/v1/movies", admin, map[string]any{"title": "The Godfather", "directors": []string{"Francis Ford Coppola"}}), 201)
	again := map[string]any{"title": "the godfather", "year": 1972, "directors": []string{"Francis Ford Coppola"}}
	p := wantProblem(t, e.do(t, "POST", "/v1/movies", admin, again), 409)
	if !strings.Contains(p.Errors["title"], strconv.FormatInt(first.ID, 10)) || !strings.Contains(p.Detail, "allow_duplicate=true") {
		t.Errorf("problem = %+v: want it to name movie %d and the way to create it anyway", p, first.ID)
	}
	if n, err := e.svc.Store().Backlog(context.Background()); err != nil || n != 1 {
		t.Fatalf("events = %d, %v; want the first create's only", n, err)
	}
	wantProblem(t, e.do(t, "POST", "/v1/movies?allow_duplicate=yes", admin, again), 400)
	mustMovie(t, e.do(t, "POST", "/v1/movies?allow_duplicate=true", admin, again), 201)
	mustMovie(t, e.do(t, "POST", "/v1/movies", admin, map[string]any{"title": "The Godfather", "year": 1990}), 201)
}

func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	body, _ := json.Marshal(matrix())
	first := e.raw(t, "POST", "/v1/movies", admin, body, "Idempotency-Key", "abc-123")
	m := mustMovie(t, first, 201)
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first answer marked replayed")
	}
	again := e.raw(t, "POST", "/v1/movies", admin, body, "Idempotency-Key", "abc-123")
	if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" ||
		again.header.Get("Location") != "/v1/movies/1" || again.header.Get("ETag") != `"1"` {
		t.Fatalf("replay = %d %v %s", again.status, again.header, again.body)
	}
	p := wantProblem(t, e.raw(t, "POST", "/v1/movies", admin, []byte(`{"title":"Other"}`), "Idempotency-Key", "abc-123"), 422)
	if p.Code != "unprocessable" {
		t.Errorf("code = %q", p.Code)
	}
	// Keys belong to their principal: another admin's same key is a new request (of the same film, so it
	// must allow the duplicate).
	key, _ := e.apiKey(t, admin, "bot", "admin")
	other := mustMovie(t, e.raw(t, "POST", "/v1/movies?allow_duplicate=true", key, body, "Idempotency-Key", "abc-123"), 201)
	if other.ID == m.ID {
		t.Fatal("another principal's key replayed my answer")
	}
	for name, v := range map[string]string{"too long": strings.Repeat("k", 256), "non-ASCII": "clé", "control": "a\tb"} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/movies", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header["Idempotency-Key"] = []string{v}
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != 400 {
				t.Fatalf("status = %d, want 400", res.StatusCode)
			}
		})
	}
	if n, err := e.svc.Store().Backlog(context.Background()); err != nil || n != 2 {
		t.Fatalf("events = %d, %v; want 2", n, err)
	}
	// Concurrent first requests with one key: one movie.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = e.raw(t, "POST", "/v1/movies", admin, []byte(`{"title":"Once"}`), "Idempotency-Key", "burst").status
		})
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 201 && s != 409 {
			t.Fatalf("statuses = %v", statuses)
		}
	}
	if n, err := e.svc.Store().Backlog(context.Background()); err != nil || n != 3 {
		t.Fatalf("events after the burst = %d, %v; want 3", n, err)
	}
}

type importAnswer struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	Results   []struct {
		Index   int               `json:"index"`
		Status  string            `json:"status"`
		ID      int64             `json:"id"`
		Version int64             `json:"version"`
		Errors  map[string]string `json:"errors"`
		Detail  string            `json:"detail"`
	} `json:"results"`
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestImport(t *testing.T) {
	e := newEnv(t, false)
	admin := e.token(t, adminName, adminPass)
	lines := strings.Join([]string{
		`{"title":"Heat","year":1995,"tmdb_id":949,"imdb_id":"tt0113277"}`,
		``,
		`{"title":"","tmdb_id":1}`,
		`{"title":"Ronin","tmdb_id":8195}`,
		`{not json`,
		`{"title":"Heat","year":1995,"tmdb_id":949,"imdb_id":"tt0113277"}`,
		`{"title":"Heat","year":1995,"tmdb_id":949,"imdb_id":"tt0113277","rating":8.3}`,
		`{"title":"Thief","imdb_id":"tt0113277","tmdb_id":11524}`,
		`{"title":"x","budget":5}`,
	}, "\n")
	var a importAnswer
	res := e.raw(t, "POST", "/v1/imports", admin, []byte(lines))
	if res.status != 200 {
		t.Fatalf("import: %d %s", res.status, res.body)
	}
	mustJSON(t, res.body, &a)
	want := []string{"created", "failed", "created", "failed", "unchanged", "updated", "failed", "failed"}
	if a.Total != 8 || a.Created != 2 || a.Updated != 1 || a.Unchanged != 1 || a.Failed != 4 || len(a.Results) != 8 {
		t.Fatalf("answer = %s", res.body)
	}
	for i, w := range want {
		r := a.Results[i]
		if r.Index != i+1 || r.Status != w {
			t.Fatalf("result %d = %+v, want %s", i+1, r, w)
		}
		if w == "failed" && r.Detail == "" {
			t.Errorf("failed result %d has no detail", i+1)
		}
	}
	if a.Results[1].Errors["title"] == "" || a.Results[6].Errors["imdb_id"] == "" || a.Results[5].Version != 2 || a.Results[4].Version != 1 {
		t.Fatalf("answer = %s", res.body)
	}
	// A JSON array, gzipped, declared or recognised.
	array := []byte(`[{"title":"Heat","year":1995,"tmdb_id":949,"imdb_id":"tt0113277","rating":8.3},{"title":"Collateral","tmdb_id":1538}]`)
	for _, headers := range [][]string{{"Content-Encoding", "gzip"}, nil} {
		res := e.raw(t, "POST", "/v1/imports", admin, gz(t, array), headers...)
		a = importAnswer{}
		mustJSON(t, res.body, &a)
		if res.status != 200 || a.Total != 2 || a.Unchanged < 1 || a.Failed != 0 {
			t.Fatalf("gzip import %v: %d %s", headers, res.status, res.body)
		}
	}
	// History names the importer.
	res = e.do(t, "GET", "/v1/movies/1/history", admin, nil)
	if res.status != 200 || !strings.Contains(string(res.body), `"actor":"import:`+e.actor(t, adminName)+`"`) {
		t.Fatalf("history: %d %s", res.status, res.body)
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		headers []string
		status  int
	}{
		{"empty", []byte{}, nil, 400},
		{"no content type", []byte(`{"title":"a"}`), []string{"Content-Type", ""}, 415},
		{"csv", []byte("title\na\n"), []string{"Content-Type", "text/csv"}, 415},
		{"broken array", []byte(`[{"title":"a"},{"title":`), nil, 400},
		{"bad gzip", []byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400},
		{"other encoding", []byte(`{"title":"a"}`), []string{"Content-Encoding", "br"}, 415},
		{"too many records", bytes.Repeat([]byte("{\"title\":\"a\"}\n"), 10_001), nil, 413},
		{"gzip bomb", gz(t, bytes.Repeat([]byte(" "), 64<<20+1)), nil, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.raw(t, "POST", "/v1/imports", admin, tc.body, tc.headers...), tc.status)
		})
	}
}

func TestIdempotentImport(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	body := []byte(`[{"title":"A"},{"title":"B"}]`)
	first := e.raw(t, "POST", "/v1/imports", admin, body, "Idempotency-Key", "import-1")
	again := e.raw(t, "POST", "/v1/imports", admin, body, "Idempotency-Key", "import-1")
	if first.status != 200 || again.status != 200 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s; again %d %v %s", first.status, first.body, again.status, again.header, again.body)
	}
	wantProblem(t, e.raw(t, "POST", "/v1/imports", admin, []byte(`[{"title":"C"}]`), "Idempotency-Key", "import-1"), 422)
	if n, err := e.svc.Store().Backlog(context.Background()); err != nil || n != 2 {
		t.Fatalf("events = %d, %v; want 2", n, err)
	}
}

// TestImportSpeed imports 10,000 new movies in one request on SQLite.
// TestImportLarge imports the most records one request may carry; all must be created.
func TestImportLarge(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	res := e.raw(t, "POST", "/v1/imports", admin, importBody(10_000))
	var a importAnswer
	mustJSON(t, res.body, &a)
	if res.status != 200 || a.Created != 10_000 || a.Failed != 0 {
		t.Fatalf("import: %d created %d: %s", res.status, a.Created, res.body[:min(len(res.body), 600)])
	}
}

// BenchmarkImport measures imports on SQLite in records/s; compare runs with benchstat, not a threshold.
func BenchmarkImport(b *testing.B) {
	const n = 1000
	e := newEnv(b, true)
	admin := e.token(b, adminName, adminPass)
	for i := 0; b.Loop(); i++ {
		body := importBodyFrom(i*n, n)
		if res := e.raw(b, "POST", "/v1/imports", admin, body); res.status != 200 {
			b.Fatalf("import: %d", res.status)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkImportConcurrent measures imports from four clients at once on SQLite, which has one writer:
// records/s, and the slowest request, which shows whether a writer waits its turn or behind many others.
func BenchmarkImportConcurrent(b *testing.B) {
	const n, clients = 1000, 4
	e := newEnv(b, true)
	admin := e.token(b, adminName, adminPass)
	var (
		mu      sync.Mutex
		slowest time.Duration
		failed  error
		next    int
	)
	post := func() {
		mu.Lock()
		first := next * n
		next++
		mu.Unlock()
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/imports", bytes.NewReader(importBodyFrom(first, n)))
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+admin)
		start := time.Now()
		res, err := e.srv.Client().Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("import: %d", res.StatusCode)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		slowest = max(slowest, time.Since(start))
		if err != nil {
			failed = err
		}
	}
	for b.Loop() {
		var wg sync.WaitGroup
		for range clients {
			wg.Go(post)
		}
		wg.Wait()
	}
	if failed != nil {
		b.Fatal(failed)
	}
	b.ReportMetric(float64(b.N*n*clients)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(slowest.Milliseconds()), "slowest-ms")
}

func importBody(n int) []byte { return importBodyFrom(0, n) }

// importBodyFrom is n JSON Lines records with tmdb ids from first+1 on.
func importBodyFrom(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"title":"Movie %d","year":1990,"tmdb_id":%d,"genres":["Drama","Crime"],"cast":["A","B","C"],"overview":"%s"}`+"\n",
			i, i+1, strings.Repeat("words ", 40))
	}
	return b.Bytes()
}

func TestHistory(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	key, id := e.apiKey(t, admin, "bot", "admin")
	mustMovie(t, e.do(t, "POST", "/v1/movies", admin, map[string]any{"title": "Heat"}), 201)
	mustMovie(t, e.raw(t, "PATCH", "/v1/movies/1", key, []byte(`{"year":1995}`)), 200)
	if res := e.do(t, "DELETE", "/v1/movies/1", admin, nil); res.status != 204 {
		t.Fatal(res.status)
	}
	res := e.do(t, "GET", "/v1/movies/1/history", admin, nil)
	var h struct {
		ID      int64 `json:"id"`
		History []struct {
			Version int64                                 `json:"version"`
			Action  string                                `json:"action"`
			Actor   string                                `json:"actor"`
			At      time.Time                             `json:"at"`
			Changes map[string]map[string]json.RawMessage `json:"changes"`
		} `json:"history"`
	}
	if res.status != 200 {
		t.Fatalf("history: %d %s", res.status, res.body)
	}
	mustJSON(t, res.body, &h)
	if h.ID != 1 || len(h.History) != 3 {
		t.Fatalf("history = %s", res.body)
	}
	if c := h.History[0]; c.Action != "created" || c.Actor != e.actor(t, adminName) || string(c.Changes["title"]["from"]) != "null" || string(c.Changes["title"]["to"]) != `"Heat"` {
		t.Errorf("created = %+v", c)
	}
	if u := h.History[1]; u.Action != "updated" || u.Actor != fmt.Sprintf("key:%d", id) || string(u.Changes["year"]["to"]) != "1995" || len(u.Changes) != 1 {
		t.Errorf("updated = %+v", u)
	}
	if d := h.History[2]; d.Action != "deleted" || d.Version != 3 || len(d.Changes) != 0 || d.At.IsZero() {
		t.Errorf("deleted = %+v", d)
	}
	wantProblem(t, e.do(t, "GET", "/v1/movies/2/history", admin, nil), 404)
}

// actor is how histories name user username.
func (e *env) actor(t *testing.T, username string) string {
	t.Helper()
	u, err := e.svc.Store().UserByName(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u.Actor()
}
