package catalogapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"marquee/pkg/authn"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
)

func TestUsers(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	res := e.do(t, "POST", "/v1/users", admin, map[string]string{"username": " Ada ", "password": "twelve-chars-ok", "role": "admin"})
	var u struct {
		Actor     string    `json:"actor"`
		Username  string    `json:"username"`
		Role      string    `json:"role"`
		CreatedAt time.Time `json:"created_at"`
	}
	if res.status != 201 || res.header.Get("Location") != "/v1/users/ada" {
		t.Fatalf("create: %d %v %s", res.status, res.header, res.body)
	}
	mustJSON(t, res.body, &u)
	if u.Username != "ada" || u.Role != "admin" || u.CreatedAt.IsZero() || !strings.HasPrefix(u.Actor, "user:") {
		t.Fatalf("created = %s", res.body)
	}
	if tok := e.token(t, "ada", "twelve-chars-ok"); tok == "" {
		t.Fatal("no token for the new user")
	}
	for _, tc := range []struct {
		name   string
		body   map[string]string
		status int
		fields []string
	}{
		{"taken", map[string]string{"username": "ada", "password": "twelve-chars-ok", "role": "user"}, 409, nil},
		{"invalid", map[string]string{"username": "-x", "password": "short", "role": "root"}, 400, []string{"username", "password", "role"}},
		{"unknown field", map[string]string{"username": "bob", "password": "twelve-chars-ok", "role": "user", "admin": "yes"}, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, e.do(t, "POST", "/v1/users", admin, tc.body), tc.status)
			for _, f := range tc.fields {
				if p.Errors[f] == "" {
					t.Errorf("no error for %s: %+v", f, p.Errors)
				}
			}
		})
	}
	res = e.do(t, "GET", "/v1/users", admin, nil)
	var list struct {
		Users []struct {
			Actor     string    `json:"actor"`
			Username  string    `json:"username"`
			Role      string    `json:"role"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"users"`
	}
	mustJSON(t, res.body, &list) // strict: no hashes or other fields
	if res.status != 200 || len(list.Users) != 3 || list.Users[0].Username != "ada" || strings.Contains(string(res.body), "argon2") {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	if res := e.do(t, "DELETE", "/v1/users/ada", admin, nil); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	wantProblem(t, e.do(t, "DELETE", "/v1/users/ada", admin, nil), 404)
	wantProblem(t, e.do(t, "DELETE", "/v1/users/NOT..valid", admin, nil), 404)
	p := wantProblem(t, e.do(t, "DELETE", "/v1/users/"+adminName, admin, nil), 409) // the last admin
	if !strings.Contains(p.Detail, "last admin") {
		t.Errorf("detail = %q", p.Detail)
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	userKey, userID := e.apiKey(t, admin, "reader", "user")
	adminKey, adminID := e.apiKey(t, admin, "writer", "admin")
	if res := e.do(t, "POST", "/v1/movies", adminKey, map[string]any{"title": "By key"}); res.status != 201 {
		t.Fatalf("admin key create: %d %s", res.status, res.body)
	}
	wantProblem(t, e.do(t, "POST", "/v1/movies", userKey, map[string]any{"title": "No"}), 403)
	if res := e.do(t, "GET", "/v1/movies/1", userKey, nil); res.status != 200 {
		t.Fatalf("user key read: %d", res.status)
	}
	introspect := func(tok string) map[string]any {
		t.Helper()
		res := e.do(t, "POST", "/v1/auth/introspect", "", map[string]string{"token": tok})
		if res.status != 200 || res.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspect: %d %s", res.status, res.body)
		}
		var out map[string]any
		_ = json.Unmarshal(res.body, &out)
		return out
	}
	if got := introspect(userKey); got["active"] != true || got["subject"] != fmt.Sprintf("key:%d", userID) || got["role"] != "user" || len(got) != 3 {
		t.Fatalf("introspect user key = %v", got)
	}
	if got := introspect(admin); got["active"] != true || got["subject"] != adminName || got["role"] != "admin" {
		t.Fatalf("introspect access token = %v", got)
	}
	last := "x" // the key with its last character changed: not the key
	if strings.HasSuffix(userKey, last) {
		last = "y"
	}
	for _, bad := range []string{"", "mq_x", userKey[:len(userKey)-1] + last, "mq_" + strings.Repeat("A", 36), "eyJ.x.y"} {
		if got := introspect(bad); got["active"] != false || len(got) != 1 {
			t.Fatalf("introspect %q = %v", bad, got)
		}
	}
	// A key exchanged for an access token carries the key's subject and role.
	res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"api_key": adminKey})
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if res.status != 200 {
		t.Fatalf("exchange: %d %s", res.status, res.body)
	}
	mustJSON(t, res.body, &tok)
	if got := introspect(tok.AccessToken); got["subject"] != fmt.Sprintf("key:%d", adminID) || got["role"] != "admin" {
		t.Fatalf("exchanged token = %v", got)
	}
	wantProblem(t, e.do(t, "POST", "/v1/auth/token", "", map[string]string{"api_key": adminKey, "username": "x"}), 400)
	// The list shows use and never the key.
	res = e.do(t, "GET", "/v1/keys", admin, nil)
	var list struct {
		Keys []struct {
			ID         int64      `json:"id"`
			Name       string     `json:"name"`
			Role       string     `json:"role"`
			CreatedBy  string     `json:"created_by"`
			CreatedAt  time.Time  `json:"created_at"`
			LastUsedAt *time.Time `json:"last_used_at"`
			RevokedAt  *time.Time `json:"revoked_at"`
		} `json:"keys"`
	}
	mustJSON(t, res.body, &list)
	if len(list.Keys) != 2 || list.Keys[0].LastUsedAt == nil || list.Keys[0].CreatedBy != adminName || strings.Contains(string(res.body), userKey) {
		t.Fatalf("list = %s", res.body)
	}
	// Revoked: refused everywhere.
	if res := e.do(t, "DELETE", fmt.Sprintf("/v1/keys/%d", userID), admin, nil); res.status != 204 {
		t.Fatalf("revoke: %d", res.status)
	}
	if res := e.do(t, "DELETE", fmt.Sprintf("/v1/keys/%d", userID), admin, nil); res.status != 204 {
		t.Fatalf("revoke again: %d", res.status)
	}
	wantProblem(t, e.do(t, "DELETE", "/v1/keys/999", admin, nil), 404)
	wantProblem(t, e.do(t, "DELETE", "/v1/keys/abc", admin, nil), 400)
	if got := introspect(userKey); got["active"] != false {
		t.Fatalf("revoked key introspects as %v", got)
	}
	wantProblem(t, e.do(t, "GET", "/v1/movies/1", userKey, nil), 401)
	wantProblem(t, e.do(t, "POST", "/v1/auth/token", "", map[string]string{"api_key": userKey}), 401)
	for _, body := range []map[string]string{{"name": "", "role": "user"}, {"name": "x", "role": "root"}, {"name": strings.Repeat("n", 101), "role": "user"}} {
		wantProblem(t, e.do(t, "POST", "/v1/keys", admin, body), 400)
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	return header.Kid
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	// A second replica on the same database.
	svc2, err := catalogsvc.New(ctx, e.cfg, catalogsvc.Deps{DB: e.db, Dialect: catalogsql.SQLite, JS: e.js, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(svc2.Handler())
	t.Cleanup(srv2.Close)
	e2 := &env{db: e.db, srv: srv2, svc: svc2, js: e.js, cfg: e.cfg}
	before := e.token(t, adminName, adminPass)
	if res := e2.do(t, "GET", "/v1/movies/1", before, nil); res.status != 404 { // replica 2 knows the first key
		t.Fatalf("replica 2 with the first key: %d %s", res.status, res.body)
	}
	res := e.do(t, "POST", "/v1/auth/rotate", before, nil)
	var rot struct {
		Kid       string    `json:"kid"`
		CreatedAt time.Time `json:"created_at"`
	}
	if res.status != 201 {
		t.Fatalf("rotate: %d %s", res.status, res.body)
	}
	mustJSON(t, res.body, &rot)
	after := e.token(t, adminName, adminPass)
	if kidOf(t, after) != rot.Kid || kidOf(t, before) == rot.Kid {
		t.Fatalf("kids: before %s, after %s, rotated %s", kidOf(t, before), kidOf(t, after), rot.Kid)
	}
	// Both tokens work on both replicas: replica 2 rereads the keys when it meets the new kid.
	for i, x := range []*env{e, e2} {
		for _, tok := range []string{before, after} {
			if res := x.do(t, "GET", "/v1/movies/1", tok, nil); res.status != 404 {
				t.Fatalf("replica %d, kid %s: %d %s", i+1, kidOf(t, tok), res.status, res.body)
			}
		}
	}
	var set authn.JWKS
	mustJSON(t, e.do(t, "GET", "/v1/auth/jwks.json", "", nil).body, &set)
	if len(set.Keys) != 2 || set.Keys[1].Kid != rot.Kid {
		t.Fatalf("jwks = %+v", set)
	}
	// An unknown kid is refused (and rereads the keys at most once a second).
	forged := strings.Replace(after, strings.Split(after, ".")[0], base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"nope","typ":"JWT"}`)), 1)
	wantProblem(t, e.do(t, "GET", "/v1/movies/1", forged, nil), 401)
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t, true)
	for _, name := range []string{userName, "ghost"} { // known and unknown users alike
		t.Run(name, func(t *testing.T) {
			for i := range 5 {
				p := wantProblem(t, e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": name, "password": "wrong-password"}), 401)
				if p.Detail != "The username or password is wrong." {
					t.Fatalf("failure %d: %q", i+1, p.Detail)
				}
			}
			res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": name, "password": userPass})
			wantProblem(t, res, 429)
			if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 || s > 300 {
				t.Fatalf("Retry-After = %q", res.header.Get("Retry-After"))
			}
		})
	}
	time.Sleep(1100 * time.Millisecond)
	if res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": userName, "password": userPass}); res.status != http.StatusOK {
		t.Fatalf("after the lock: %d %s", res.status, res.body)
	}
	// The success cleared the count: one more failure does not lock.
	wantProblem(t, e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": userName, "password": "wrong"}), 401)
	if res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": userName, "password": userPass}); res.status != http.StatusOK {
		t.Fatalf("after one failure: %d", res.status)
	}
}

// TestLockoutCannotLockOutTheOwner: an attacker failing on and on, also each time its wait is over, holds
// up only itself; the owner, from another client, logs in at once. A client spraying one password over many
// usernames is slowed down.
func TestLockoutCannotLockOutTheOwner(t *testing.T) {
	e := newEnv(t, true)
	login := func(client, name, pw string) response {
		return e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": name, "password": pw}, "Marquee-Client-IP", client)
	}
	const attacker, owner = "192.0.2.66", "198.51.100.7"
	for i := range 5 {
		wantProblem(t, login(attacker, adminName, "wrong-password"), 401)
		if i == 4 {
			// The fifth failure has just begun the attacker's wait (a second at least): even the right
			// password waits.
			wantProblem(t, login(attacker, adminName, adminPass), 429)
		}
		if res := login(owner, adminName, adminPass); res.status != 200 {
			t.Fatalf("the owner after %d failures of an attacker: %d %s", i+1, res.status, res.body)
		}
	}
	for i := range 5 { // the attacker goes on, held up or not: the owner is never
		if res := login(attacker, adminName, "wrong-password"); res.status != 401 && res.status != 429 {
			t.Fatalf("attacker: %d", res.status)
		}
		if res := login(owner, adminName, adminPass); res.status != 200 {
			t.Fatalf("the owner while the attacker goes on (%d): %d %s", i+1, res.status, res.body)
		}
	}

	const sprayer, clientFree = "192.0.2.99", 20 // the per-client budget
	codes := map[int]int{}
	for i := range clientFree + 5 {
		codes[login(sprayer, fmt.Sprintf("victim%d", i), "Summer2026!").status]++
	}
	if codes[401] != clientFree || codes[429] != 5 {
		t.Fatalf("spraying %d usernames from one client: %v, want %d failures then 429s", clientFree+5, codes, clientFree)
	}
	if res := login(owner, userName, userPass); res.status != 200 {
		t.Fatalf("another client during the spray: %d", res.status)
	}
}

// TestDeletedAdminLosesEverything: deleting a user revokes its API keys (GET /v1/keys says so) and its
// access tokens, those exchanged for its keys too, at once; re-creating the name with a lower role does
// not bring the old token's rights back; demoting or resetting the password of a user does the same.
func TestDeletedAdminLosesEverything(t *testing.T) {
	e := newEnv(t, true)
	root := e.token(t, adminName, adminPass)
	const bobPass = "bob's long passphrase"
	if res := e.do(t, "POST", "/v1/users", root, map[string]string{"username": "bob", "password": bobPass, "role": "admin"}); res.status != 201 {
		t.Fatalf("create bob: %d %s", res.status, res.body)
	}
	bob := e.token(t, "bob", bobPass)
	bobKey, bobKeyID := e.apiKey(t, bob, "bob's key", "admin")
	res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"api_key": bobKey})
	var exchanged struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(res.body, &exchanged); err != nil || exchanged.AccessToken == "" {
		t.Fatalf("exchange bob's key: %d %s", res.status, res.body)
	}
	for name, cred := range map[string]string{"token": bob, "key": bobKey, "token of the key": exchanged.AccessToken} {
		if res := e.do(t, "GET", "/v1/users", cred, nil); res.status != 200 {
			t.Fatalf("bob's %s before: %d", name, res.status)
		}
	}

	if res := e.do(t, "DELETE", "/v1/users/bob", root, nil); res.status != 204 {
		t.Fatalf("delete bob: %d %s", res.status, res.body)
	}
	for name, cred := range map[string]string{"token": bob, "key": bobKey, "token of the key": exchanged.AccessToken} {
		wantProblem(t, e.do(t, "POST", "/v1/movies", cred, map[string]any{"title": "Bob was here"}), 401)
		wantProblem(t, e.do(t, "POST", "/v1/users", cred, map[string]string{"username": "bob2", "password": bobPass, "role": "admin"}), 401)
		wantProblem(t, e.do(t, "POST", "/v1/keys", cred, map[string]string{"name": "again", "role": "admin"}), 401)
		wantProblem(t, e.do(t, "GET", "/v1/users", cred, nil), 401)
		if got := e.do(t, "POST", "/v1/auth/introspect", "", map[string]string{"token": cred}); !strings.Contains(string(got.body), `"active":false`) {
			t.Fatalf("introspect bob's %s after the delete: %s", name, got.body)
		}
	}
	keys := e.do(t, "GET", "/v1/keys", root, nil)
	if !regexp.MustCompile(fmt.Sprintf(`"id":%d,[^}]*"revoked_at":"`, bobKeyID)).Match(keys.body) {
		t.Fatalf("bob's key is not listed as revoked: %s", keys.body)
	}

	// Re-created as a user: the old admin token stays dead.
	if res := e.do(t, "POST", "/v1/users", root, map[string]string{"username": "bob", "password": bobPass, "role": "user"}); res.status != 201 {
		t.Fatalf("re-create bob: %d %s", res.status, res.body)
	}
	wantProblem(t, e.do(t, "GET", "/v1/users", bob, nil), 401)
	wantProblem(t, e.do(t, "POST", "/v1/movies", bob, map[string]any{"title": "Bob was here"}), 401)

	// Demoted (the store's upsert, as `marquee user` and the admin reset do): tokens and keys revoked.
	if res := e.do(t, "POST", "/v1/users", root, map[string]string{"username": "carol", "password": bobPass, "role": "admin"}); res.status != 201 {
		t.Fatalf("create carol: %d", res.status)
	}
	carol := e.token(t, "carol", bobPass)
	carolKey, _ := e.apiKey(t, carol, "carol's key", "admin")
	u, err := e.svc.Store().UserByName(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	u.Role = catalog.RoleUser
	if err := e.svc.Store().UpsertUser(context.Background(), *u); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.do(t, "GET", "/v1/users", carol, nil), 401)
	wantProblem(t, e.do(t, "GET", "/v1/users", carolKey, nil), 401)
}

// TestHistoryNamesStableIDs: a deleted and re-created username is a new account in histories, never the
// old one.
func TestHistoryNamesStableIDs(t *testing.T) {
	e := newEnv(t, true)
	root := e.token(t, adminName, adminPass)
	const pw = "bob's long passphrase"
	actorOf := func() string {
		t.Helper()
		u, err := e.svc.Store().UserByName(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		return u.Actor()
	}
	if res := e.do(t, "POST", "/v1/users", root, map[string]string{"username": "bob", "password": pw, "role": "admin"}); res.status != 201 {
		t.Fatalf("create bob: %d %s", res.status, res.body)
	}
	first := actorOf()
	mustMovie(t, e.do(t, "POST", "/v1/movies", e.token(t, "bob", pw), map[string]any{"title": "Heat"}), 201)
	if res := e.do(t, "DELETE", "/v1/users/bob", root, nil); res.status != 204 {
		t.Fatalf("delete bob: %d", res.status)
	}
	time.Sleep(time.Second) // a token of the new bob must not share the old one's second (see Revocation)
	if res := e.do(t, "POST", "/v1/users", root, map[string]string{"username": "bob", "password": pw, "role": "admin"}); res.status != 201 {
		t.Fatalf("re-create bob: %d %s", res.status, res.body)
	}
	second := actorOf()
	mustMovie(t, e.do(t, "PATCH", "/v1/movies/1", e.token(t, "bob", pw), map[string]any{"year": 1995}), 200)
	res := e.do(t, "GET", "/v1/movies/1/history", root, nil)
	var h struct {
		ID      int64 `json:"id"`
		History []struct {
			Version int64           `json:"version"`
			Action  string          `json:"action"`
			Actor   string          `json:"actor"`
			At      time.Time       `json:"at"`
			Changes json.RawMessage `json:"changes"`
		} `json:"history"`
	}
	mustJSON(t, res.body, &h)
	if first == second || len(h.History) != 2 || h.History[0].Actor != first || h.History[1].Actor != second {
		t.Fatalf("bob was %s then %s; history: %s", first, second, res.body)
	}
	if !strings.Contains(string(e.do(t, "GET", "/v1/users", root, nil).body), `"actor":"`+second+`","username":"bob"`) {
		t.Fatal("GET /v1/users does not name bob's actor")
	}
}

// TestPasswordChangeRevokesTokensAtOnce: a new password revokes the tokens issued before it, even one
// issued a moment before, in the same second; a token issued after it stands.
func TestPasswordChangeRevokesTokensAtOnce(t *testing.T) {
	e := newEnv(t, true)
	root := e.token(t, adminName, adminPass)
	const pass = "dora's long passphrase"
	if res := e.do(t, "POST", "/v1/users", root, map[string]string{"username": "dora", "password": pass, "role": "admin"}); res.status != 201 {
		t.Fatalf("create dora: %d %s", res.status, res.body)
	}
	for round := range 3 { // each round: a token, then at once a new password (the same one, hashed anew)
		before := e.token(t, "dora", pass)
		u, err := e.svc.Store().UserByName(context.Background(), "dora")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Store().UpsertUser(context.Background(), *u); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.do(t, "GET", "/v1/users", before, nil), 401)
		after := e.token(t, "dora", pass)
		if res := e.do(t, "GET", "/v1/users", after, nil); res.status != 200 {
			t.Fatalf("round %d: a token issued after the change: %d %s", round, res.status, res.body)
		}
	}
}
