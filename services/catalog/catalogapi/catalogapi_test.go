package catalogapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/authn"
	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/catalog/catalogtest"
	"marquee/services/catalog/password"
)

const (
	adminName = "root"
	adminPass = "correct-horse-battery"
	userName  = "reader"
	userPass  = "reader-password-1"
)

type env struct {
	db  *sql.DB
	srv *httptest.Server
	svc *catalogsvc.Service
	js  jetstream.JetStream
	cfg catalogsvc.Config
}

// newEnv builds the real service (SQLite in a temp folder, embedded NATS) and serves its handler. The
// relay runs unless noRelay.
func newEnv(t testing.TB, noRelay bool) *env {
	t.Helper()
	ctx := context.Background()
	cfg := catalogsvc.DefaultConfig()
	cfg.Stream, cfg.SubjectPrefix = "CATALOG_API_TEST", "apitest"
	cfg.AdminUsername, cfg.AdminPassword = adminName, adminPass
	js := testenv.JetStream(t)
	db := catalogtest.MustOpenSQLite(t)
	svc, err := catalogsvc.New(ctx, cfg, catalogsvc.Deps{DB: db, Dialect: catalogsql.SQLite, JS: js, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.NewHasher(1).Hash(ctx, userPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Store().UpsertUser(ctx, catalog.User{Username: userName, Role: catalog.RoleUser, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if !noRelay {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(runCtx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &env{db: db, srv: srv, svc: svc, js: js, cfg: cfg}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends body as JSON (a string as it is); raw sends bytes, as application/json unless headers name
// another Content-Type.
func (e *env) do(t testing.TB, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
		return e.raw(t, method, path, token, nil, headers...)
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	return e.raw(t, method, path, token, data, append([]string{"Content-Type", "application/json"}, headers...)...)
}

func (e *env) token(t testing.TB, username, pw string) string {
	t.Helper()
	res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": username, "password": pw})
	if res.status != http.StatusOK {
		t.Fatalf("token for %s: %d %s", username, res.status, res.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	mustJSON(t, res.body, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != int64(e.cfg.TokenTTL.Seconds()) || tok.AccessToken == "" {
		t.Fatalf("token response = %s", res.body)
	}
	return tok.AccessToken
}

func mustJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // the body has exactly the fields of v
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func wantProblem(t *testing.T, res response, status int) httpx.Problem {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d; body %s", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != httpx.ProblemContentType {
		t.Fatalf("Content-Type = %q, want problem+json", ct)
	}
	var p httpx.Problem
	mustJSON(t, res.body, &p)
	if p.Status != status {
		t.Fatalf("problem status = %d, want %d", p.Status, status)
	}
	return p
}

func matrix() map[string]any {
	return map[string]any{
		"title": " The Matrix ", "year": 1999, "directors": []string{"Lana Wachowski", "Lilly Wachowski"},
		"cast": []string{"Keanu Reeves"}, "genres": []string{"Action", " Action", "Science Fiction"},
		"overview": "A hacker learns the truth.", "runtime_minutes": 136, "rating": 8.7, "votes": 22351, "popularity": 87,
	}
}

func TestToken(t *testing.T) {
	e := newEnv(t, true)
	tok := e.token(t, adminName, adminPass)
	res := e.do(t, "GET", "/v1/auth/jwks.json", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("jwks: %d %s", res.status, res.body)
	}
	var set authn.JWKS
	mustJSON(t, res.body, &set)
	keys, err := set.StaticKeys()
	if err != nil || len(keys) != 1 {
		t.Fatalf("jwks keys = %v, %v", keys, err)
	}
	p, err := authn.NewVerifier(keys).Verify(context.Background(), tok)
	if err != nil || p.Subject != adminName || !p.IsAdmin() {
		t.Fatalf("verify issued token with the JWKS: %+v, %v", p, err)
	}

	var details []string
	for _, tt := range []struct {
		name string
		body any
		want int
	}{
		{"wrong password", map[string]string{"username": adminName, "password": "nope"}, http.StatusUnauthorized},
		{"unknown user", map[string]string{"username": "ghost", "password": "nope"}, http.StatusUnauthorized},
		{"empty password", map[string]string{"username": adminName, "password": ""}, http.StatusUnauthorized},
		{"unknown field", map[string]string{"username": adminName, "password": adminPass, "scope": "all"}, http.StatusBadRequest},
		{"not JSON", "username=root", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, e.do(t, "POST", "/v1/auth/token", "", tt.body), tt.want)
			if tt.want == http.StatusUnauthorized {
				details = append(details, p.Detail)
			}
		})
	}
	if len(details) != 3 || details[0] != details[1] || details[1] != details[2] {
		t.Errorf("bad-login details differ, telling which users exist: %q", details)
	}
}

func TestWritesNeedAnAdmin(t *testing.T) {
	e := newEnv(t, true)
	admin, user := e.token(t, adminName, adminPass), e.token(t, userName, userPass)
	routes := []struct {
		method, path string
		body         any
		ok           int
	}{
		{"POST", "/v1/movies", matrix(), http.StatusCreated},
		{"PUT", "/v1/movies/1", matrix(), http.StatusOK},
		{"DELETE", "/v1/movies/1", nil, http.StatusNoContent},
	}
	for _, r := range routes {
		t.Run(r.method, func(t *testing.T) {
			res := e.do(t, r.method, r.path, "", r.body)
			wantProblem(t, res, http.StatusUnauthorized)
			if res.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			wantProblem(t, e.do(t, r.method, r.path, "not-a-jwt", r.body), http.StatusUnauthorized)
			wantProblem(t, e.do(t, r.method, r.path, user, r.body), http.StatusForbidden)
			if res := e.do(t, r.method, r.path, admin, r.body); res.status != r.ok {
				t.Fatalf("admin: %d %s, want %d", res.status, res.body, r.ok)
			}
		})
	}
	// Reads are open to anyone, but a bad token is still refused.
	if res := e.do(t, "GET", "/v1/movies/1", "", nil); res.status != http.StatusNotFound { // deleted above
		t.Errorf("anonymous GET of a deleted movie: %d", res.status)
	}
	wantProblem(t, e.do(t, "GET", "/v1/movies/1", "garbage", nil), http.StatusUnauthorized)
	wantProblem(t, e.do(t, "GET", "/v1/movies/1", "", nil, "Authorization", "Basic eDp5"), http.StatusUnauthorized)
}

func TestMovieLifecycle(t *testing.T) {
	e := newEnv(t, false)
	admin := e.token(t, adminName, adminPass)

	res := e.do(t, "POST", "/v1/movies", admin, matrix())
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var m events.Movie
	mustJSON(t, res.body, &m)
	if got, want := res.header.Get("Location"), "/v1/movies/1"; m.ID != 1 || got != want {
		t.Fatalf("id %d, Location %q", m.ID, got)
	}
	if got := res.header.Get("ETag"); got != `"1"` || m.Version != 1 {
		t.Fatalf("ETag %q, version %d", got, m.Version)
	}
	if m.Title != "The Matrix" || strings.Join(m.Genres, "|") != "Action|Science Fiction" || *m.Rating != 8.7 {
		t.Errorf("created movie not normalised: %+v", m)
	}
	// The exact key set of events.Movie: the catalog and search answer with the same shape.
	var keys map[string]any
	_ = json.Unmarshal(res.body, &keys)
	if len(keys) != len(events.Fields)+len(events.ServerFields) {
		t.Errorf("movie has %d keys: %s", len(keys), res.body)
	}

	get := e.do(t, "GET", "/v1/movies/1", "", nil)
	if get.status != http.StatusOK || get.header.Get("ETag") != `"1"` || !bytes.Equal(get.body, res.body) {
		t.Fatalf("get: %d %s %s", get.status, get.header.Get("ETag"), get.body)
	}

	upd := matrix()
	upd["title"] = "The Matrix Reloaded"
	for _, im := range []string{`"1"`, `"2"`, `*`} { // each form of If-Match
		res := e.do(t, "PUT", "/v1/movies/1", admin, upd, "If-Match", im)
		if res.status != http.StatusOK {
			t.Fatalf("PUT If-Match %s: %d %s", im, res.status, res.body)
		}
	}
	res = e.do(t, "PUT", "/v1/movies/1", admin, map[string]any{"title": "Stale"}, "If-Match", `"2"`)
	p := wantProblem(t, res, http.StatusPreconditionFailed)
	if p.Code != "precondition-failed" {
		t.Errorf("code = %q", p.Code)
	}
	get = e.do(t, "GET", "/v1/movies/1", "", nil)
	mustJSON(t, get.body, &m)
	if m.Title != "The Matrix Reloaded" || m.Version != 4 || get.header.Get("ETag") != `"4"` {
		t.Fatalf("after stale PUT: %+v ETag %s", m, get.header.Get("ETag"))
	}

	wantProblem(t, e.do(t, "DELETE", "/v1/movies/1", admin, nil, "If-Match", `"3"`), http.StatusPreconditionFailed)
	del := e.do(t, "DELETE", "/v1/movies/1", admin, nil, "If-Match", `"4"`)
	if del.status != http.StatusNoContent || del.header.Get("ETag") != `"5"` || len(del.body) != 0 {
		t.Fatalf("delete: %d ETag %s body %q", del.status, del.header.Get("ETag"), del.body)
	}
	wantProblem(t, e.do(t, "GET", "/v1/movies/1", "", nil), http.StatusNotFound)
	wantProblem(t, e.do(t, "PUT", "/v1/movies/1", admin, matrix()), http.StatusNotFound)
	wantProblem(t, e.do(t, "DELETE", "/v1/movies/1", admin, nil), http.StatusNotFound)

	// The tombstone reaches the stream: the write path ends in JetStream.
	st, err := e.js.Stream(context.Background(), e.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg, err := st.GetLastMsgForSubject(context.Background(), "apitest.movie.1")
		if err == nil && msg.Header.Get(jetstream.MsgIDHeader) == "movie.1.v5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tombstone not on the stream: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	if res := e.do(t, "POST", "/v1/movies", admin, matrix()); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	tests := []struct {
		name         string
		method, path string
		body         any
		headers      []string
		status       int
		fields       []string
	}{
		{"invalid fields", "POST", "/v1/movies", map[string]any{"title": "  ", "rating": 11, "year": 1500, "genres": []string{"ok", " "}}, nil, 400, []string{"title", "rating", "year", "genres"}},
		{"unknown field", "POST", "/v1/movies", map[string]any{"title": "x", "budget": 1}, nil, 400, nil},
		{"bad new fields", "POST", "/v1/movies", map[string]any{"title": "x", "imdb_id": "tt1", "tmdb_id": 0, "original_language": "EN",
			"poster_url": "file:///etc/passwd", "keywords": make([]string, 101)}, nil, 400, []string{"imdb_id", "tmdb_id", "original_language", "poster_url", "keywords"}},
		{"wrong type", "POST", "/v1/movies", map[string]any{"title": "x", "year": "1999"}, nil, 400, nil},
		{"empty body", "POST", "/v1/movies", "", nil, 400, nil},
		{"trailing data", "POST", "/v1/movies", `{"title":"x"} {}`, nil, 400, nil},
		{"invalid on update", "PUT", "/v1/movies/1", map[string]any{"title": ""}, nil, 400, []string{"title"}},
		{"non-numeric id", "GET", "/v1/movies/abc", nil, nil, 400, []string{"id"}},
		{"zero id", "PUT", "/v1/movies/0", matrix(), nil, 400, []string{"id"}},
		{"negative id", "DELETE", "/v1/movies/-4", nil, nil, 400, []string{"id"}},
		{"huge id", "GET", "/v1/movies/99999999999999999999", nil, nil, 400, []string{"id"}},
		{"missing movie", "GET", "/v1/movies/42", nil, nil, 404, nil},
		{"bad If-Match", "PUT", "/v1/movies/1", matrix(), []string{"If-Match", `"abc"`}, 400, nil},
		{"If-Match list", "DELETE", "/v1/movies/1", nil, []string{"If-Match", `"1", "2"`}, 400, nil},
		{"unknown route", "GET", "/v1/nothing", nil, nil, 404, nil},
		{"wrong method", "POST", "/v1/movies/1", nil, nil, 405, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, e.do(t, tt.method, tt.path, admin, tt.body, tt.headers...), tt.status)
			for _, f := range tt.fields {
				if p.Errors[f] == "" {
					t.Errorf("no error for field %q: %+v", f, p.Errors)
				}
			}
		})
	}
	// Nothing was written by the rejected requests.
	ms, err := e.svc.Store().Movies(context.Background(), 0, 100)
	if err != nil || len(ms) != 1 || ms[0].Version != 1 {
		t.Fatalf("movies after bad requests = %v, %v", ms, err)
	}
	if n, err := e.svc.Store().Backlog(context.Background()); err != nil || n != 1 {
		t.Fatalf("outbox backlog = %d, %v; want 1", n, err)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, true) // relay not running: not ready
	if res := e.do(t, "GET", "/healthz", "", nil); res.status != http.StatusOK || !strings.Contains(string(res.body), `"ok"`) {
		t.Fatalf("healthz: %d %s", res.status, res.body)
	}
	p := wantProblem(t, e.do(t, "GET", "/readyz", "", nil), http.StatusServiceUnavailable)
	if p.Code != "unavailable" {
		t.Errorf("code = %q", p.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for e.do(t, "GET", "/readyz", "", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
