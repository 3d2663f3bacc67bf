package catalogapi_test

import (
	"bytes"
	"net/http"
	"testing"
)

// TestHostileWrites sends every JSON write route bodies an attacker would try: a wrong or missing
// Content-Type, a field twice, a field in another case. Each gets a 4xx problem and changes nothing.
func TestHostileWrites(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	mustMovie(t, e.do(t, "POST", "/v1/movies", admin, matrix()), 201)
	before := e.snapshot(t, admin)

	routes := []struct {
		method, path, body string
		contentType        string // the one the route reads
		dup, otherCase     string // a field twice (last would win); a field in another case (would match)
	}{
		{"POST", "/v1/movies", `{"title":"A"}`, "application/json", `{"title":"A","title":"B"}`, `{"Title":"A"}`},
		{"PUT", "/v1/movies/1", `{"title":"A"}`, "application/json", `{"title":"A","title":"B"}`, `{"TITLE":"A"}`},
		{"PATCH", "/v1/movies/1", `{"title":"A"}`, "application/merge-patch+json", `{"title":"A","title":"B"}`, `{"Title":"A"}`},
		{"POST", "/v1/imports", `{"title":"A"}`, "application/x-ndjson", `{"title":"A","title":"B"}`, `{"Title":"A"}`},
		{"POST", "/v1/users", `{"username":"mallory","password":"some long passphrase here","role":"user"}`, "application/json",
			`{"username":"mallory","password":"some long passphrase here","role":"user","role":"admin"}`,
			`{"username":"mallory","password":"some long passphrase here","Role":"admin"}`},
		{"POST", "/v1/keys", `{"name":"k","role":"user"}`, "application/json", `{"name":"k","role":"user","role":"admin"}`, `{"name":"k","ROLE":"admin"}`},
		{"POST", "/v1/auth/token", `{"username":"root","password":"correct-horse-battery"}`, "application/json",
			`{"username":"nobody","username":"root","password":"correct-horse-battery"}`, `{"Username":"root","password":"correct-horse-battery"}`},
	}
	for _, r := range routes {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=iso-8859-1"} {
			t.Run(r.method+" "+r.path+" as "+ct, func(t *testing.T) {
				p := wantProblem(t, e.raw(t, r.method, r.path, admin, []byte(r.body), "Content-Type", ct), http.StatusUnsupportedMediaType)
				if p.Code != "unsupported-media" {
					t.Fatalf("code = %q", p.Code)
				}
			})
		}
		for name, body := range map[string]string{"duplicate field": r.dup, "field in another case": r.otherCase} {
			t.Run(r.method+" "+r.path+" "+name, func(t *testing.T) {
				res := e.raw(t, r.method, r.path, admin, []byte(body), "Content-Type", r.contentType)
				if r.path == "/v1/imports" { // a record's fault is reported with the record
					if res.status != 200 || !bytes.Contains(res.body, []byte(`"failed":1`)) {
						t.Fatalf("import of %s: %d %s", body, res.status, res.body)
					}
					return
				}
				wantProblem(t, res, http.StatusBadRequest)
			})
		}
	}
	if after := e.snapshot(t, admin); after != before {
		t.Fatalf("hostile writes changed state:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot is what hostile requests must not change: movie 1, the users and the keys.
func (e *env) snapshot(t *testing.T, admin string) string {
	t.Helper()
	var b bytes.Buffer
	for _, path := range []string{"/v1/movies/1", "/v1/movies/2", "/v1/users", "/v1/keys"} {
		res := e.do(t, "GET", path, admin, nil)
		b.WriteString(path + " ")
		b.WriteString(http.StatusText(res.status) + " ")
		b.Write(res.body)
	}
	return b.String()
}

// TestHostileMovieFields: text a person cannot read and numbers no ranking should meet are refused.
func TestHostileMovieFields(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"NUL title", `{"title":"\u0000"}`, "title"},
		{"NULs in a title", `{"title":"a\u0000b"}`, "title"},
		{"zero-width title", `{"title":"\u200b\u200c\u200d\ufeff"}`, "title"},
		{"control title", `{"title":"\u001b[31m"}`, "title"},
		{"C1 control title", `{"title":"x\u0085y"}`, "title"},
		{"line break in a title", `{"title":"a\nb"}`, "title"},
		{"control in a tagline", `{"title":"ok","tagline":"\u0007"}`, "tagline"},
		{"control in the overview", `{"title":"ok","overview":"a\u0000"}`, "overview"},
		{"invisible cast member", `{"title":"ok","cast":["\u200b"]}`, "cast"},
		{"popularity 1e308", `{"title":"ok","popularity":1e308}`, "popularity"},
		{"votes 2^63-1", `{"title":"ok","votes":9223372036854775807}`, "votes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, e.do(t, "POST", "/v1/movies", admin, tc.body), 400)
			if p.Errors[tc.field] == "" {
				t.Fatalf("no error for %s: %+v", tc.field, p)
			}
		})
	}
	t.Run("lone surrogate", func(t *testing.T) {
		p := wantProblem(t, e.do(t, "POST", "/v1/movies", admin, `{"title":"a\ud800b"}`), 400)
		if !bytes.Contains([]byte(p.Detail), []byte("surrogate")) {
			t.Fatalf("detail %q does not name the surrogate", p.Detail)
		}
	})
	if res := e.do(t, "GET", "/v1/movies/1", admin, nil); res.status != 404 {
		t.Fatalf("a refused movie was stored: %d %s", res.status, res.body)
	}
	// Text that is odd but readable is kept: a multi-line overview, an emoji built with a zero-width joiner.
	m := mustMovie(t, e.do(t, "POST", "/v1/movies", admin, `{"title":"👩‍🚀 \ud83d\ude80","overview":"line one\nline two\ttab","popularity":1e6,"votes":1000000000}`), 201)
	if m.Title != "👩‍🚀 🚀" || m.Overview != "line one\nline two\ttab" {
		t.Fatalf("stored %+v", m)
	}
}

// TestIfMatchComparesStrongly: If-Match uses RFC 9110's strong comparison, so only "1" matches version 1.
func TestIfMatchComparesStrongly(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	mustMovie(t, e.do(t, "POST", "/v1/movies", admin, matrix()), 201)
	for _, tc := range []struct {
		ifMatch string
		status  int
	}{
		{`W/"1"`, 412},
		{`"1`, 400},
		{`1"`, 400},
		{`1`, 400},
		{`""`, 400},
		{`"01"`, 400},
		{`"1", "2"`, 400},
		{`W/"1`, 400},
	} {
		for _, method := range []string{"PUT", "PATCH", "DELETE"} {
			t.Run(method+" "+tc.ifMatch, func(t *testing.T) {
				var body any = map[string]any{"title": "Changed"}
				if method == "DELETE" {
					body = nil
				}
				wantProblem(t, e.do(t, method, "/v1/movies/1", admin, body, "If-Match", tc.ifMatch), tc.status)
			})
		}
	}
	m := mustMovie(t, e.do(t, "GET", "/v1/movies/1", "", nil), 200)
	if m.Version != 1 || m.Title != "The Matrix" {
		t.Fatalf("movie changed: %+v", m)
	}
	mustMovie(t, e.do(t, "PUT", "/v1/movies/1", admin, matrix(), "If-Match", `"1"`), 200)
}

// TestPasswordPolicy: common, breached or blank passwords are refused however long they are.
func TestPasswordPolicy(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	for _, pw := range []string{"            ", "\t\t\t\t\t\t\t\t\t\t\t\t", "password1234", "123456789012", "qwertyuiopas", "aaaaaaaaaaaa", "mallory12345"} {
		t.Run(pw, func(t *testing.T) {
			p := wantProblem(t, e.do(t, "POST", "/v1/users", admin, map[string]string{"username": "mallory", "password": pw, "role": "user"}), 400)
			if p.Errors["password"] == "" {
				t.Fatalf("no password error: %+v", p)
			}
		})
	}
	res := e.do(t, "POST", "/v1/users", admin, map[string]string{"username": "mallory", "password": "  staple battery horse correct  ", "role": "user"})
	if res.status != 201 {
		t.Fatalf("a strong password with spaces: %d %s", res.status, res.body)
	}
}

// TestHEADAndNoSniff: every GET route answers HEAD like GET without a body, and JSON and problem answers
// forbid content sniffing.
func TestHEADAndNoSniff(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	mustMovie(t, e.do(t, "POST", "/v1/movies", admin, matrix()), 201)
	for _, path := range []string{"/healthz", "/v1/auth/jwks.json", "/v1/movies/1", "/v1/movies/1/history", "/v1/users", "/v1/keys"} {
		get := e.do(t, "GET", path, admin, nil)
		head := e.do(t, "HEAD", path, admin, nil)
		if head.status != get.status || head.status != 200 || len(head.body) != 0 || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s = %d %q (%d bytes), GET = %d %q", path, head.status, head.header.Get("Content-Type"), len(head.body), get.status, get.header.Get("Content-Type"))
		}
		if get.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
	if res := e.do(t, "HEAD", "/v1/movies/99", admin, nil); res.status != 404 {
		t.Errorf("HEAD of a missing movie = %d", res.status)
	}
	p := e.do(t, "GET", "/v1/movies/99", admin, nil)
	if p.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("problem answer without nosniff: %v", p.header)
	}
}
