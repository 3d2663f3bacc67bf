package catalogapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"marquee/pkg/authn"
	"marquee/services/catalog"
)

// apiKey creates an API key through the API and returns it with its id.
func (e *env) apiKey(t *testing.T, admin, name, role string) (string, int64) {
	t.Helper()
	res := e.do(t, "POST", "/v1/keys", admin, map[string]string{"name": name, "role": role})
	if res.status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.status, res.body)
	}
	var k struct {
		ID         int64      `json:"id"`
		Name       string     `json:"name"`
		Role       string     `json:"role"`
		Key        string     `json:"key"`
		CreatedBy  string     `json:"created_by"`
		CreatedAt  time.Time  `json:"created_at"`
		LastUsedAt *time.Time `json:"last_used_at"`
		RevokedAt  *time.Time `json:"revoked_at"`
	}
	mustJSON(t, res.body, &k)
	if !catalog.IsAPIKey(k.Key) || k.Role != role || k.Name != name || k.ID <= 0 || k.RevokedAt != nil {
		t.Fatalf("created key = %s", res.body)
	}
	if res.header.Get("Location") != fmt.Sprintf("/v1/keys/%d", k.ID) || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("key headers = %v", res.header)
	}
	return k.Key, k.ID
}

// expiredToken is a token for an admin signed with the catalog's own key, expired an hour ago.
func (e *env) expiredToken(t *testing.T) string {
	t.Helper()
	keys, err := e.svc.Store().SigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		t.Fatal(keys, err)
	}
	k := keys[len(keys)-1]
	tok, err := authn.NewSigner(k.Kid, k.Private, -time.Hour).Issue(authn.Principal{Subject: adminName, Role: authn.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tamper turns a user's token into one claiming the admin role, keeping the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1)
	if forged == string(payload) {
		t.Fatalf("no role claim in %s", payload)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

// TestRouteMatrix calls every route as every kind of caller and checks the exact status.
func TestRouteMatrix(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	admin, user := e.token(t, adminName, adminPass), e.token(t, userName, userPass)
	userKey, _ := e.apiKey(t, admin, "reader bot", "user")
	adminKey, _ := e.apiKey(t, admin, "admin bot", "admin")
	revoked, revokedID := e.apiKey(t, admin, "old bot", "user")
	if res := e.do(t, "DELETE", fmt.Sprintf("/v1/keys/%d", revokedID), admin, nil); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	callers := []struct {
		name, token string
		kind        string // anonymous, user, admin or bad
	}{
		{"anonymous", "", "anonymous"},
		{"user", user, "user"},
		{"admin", admin, "admin"},
		{"user API key", userKey, "user"},
		{"admin API key", adminKey, "admin"},
		{"revoked API key", revoked, "bad"},
		{"expired token", e.expiredToken(t), "bad"},
		{"tampered token", tamper(t, user), "bad"},
		{"malformed API key", "mq_nonsense", "bad"},
	}
	n := 0
	fresh := func() string { n++; return fmt.Sprintf("%d", n) }
	newMovie := func() int64 {
		m, err := e.svc.Store().CreateMovie(ctx, "test", catalog.MovieInput{Title: "Fixture " + fresh()}, catalog.CreateAnyway)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	movie := newMovie()
	type req struct {
		path string
		body any
	}
	routes := []struct {
		method string
		access string // open (no authentication), public (anyone with a good or no token), admin
		ok     int
		build  func() req
	}{
		{"GET", "open", 200, func() req { return req{"/healthz", nil} }},
		{"POST", "open", 200, func() req {
			return req{"/v1/auth/token", map[string]string{"username": userName, "password": userPass}}
		}},
		{"GET", "open", 200, func() req { return req{"/v1/auth/jwks.json", nil} }},
		{"POST", "open", 200, func() req { return req{"/v1/auth/introspect", map[string]string{"token": userKey}} }},
		{"POST", "admin", 201, func() req { return req{"/v1/auth/rotate", nil} }},
		{"GET", "public", 200, func() req { return req{fmt.Sprintf("/v1/movies/%d", movie), nil} }},
		{"GET", "admin", 200, func() req { return req{fmt.Sprintf("/v1/movies/%d/history", movie), nil} }},
		{"POST", "admin", 201, func() req { return req{"/v1/movies", map[string]any{"title": "New " + fresh()}} }},
		{"PUT", "admin", 200, func() req { return req{fmt.Sprintf("/v1/movies/%d", movie), map[string]any{"title": "Put"}} }},
		{"PATCH", "admin", 200, func() req { return req{fmt.Sprintf("/v1/movies/%d", movie), map[string]any{"year": 1999}} }},
		{"DELETE", "admin", 204, func() req { return req{fmt.Sprintf("/v1/movies/%d", newMovie()), nil} }},
		{"POST", "admin", 200, func() req { return req{"/v1/imports", []map[string]any{{"title": "Imported " + fresh()}}} }},
		{"POST", "admin", 201, func() req {
			return req{"/v1/users", map[string]string{"username": "u" + fresh(), "password": "twelve-chars-ok", "role": "user"}}
		}},
		{"GET", "admin", 200, func() req { return req{"/v1/users", nil} }},
		{"DELETE", "admin", 204, func() req {
			name := "gone" + fresh()
			if err := e.svc.Store().UpsertUser(ctx, catalog.User{Username: name, Role: catalog.RoleUser, PasswordHash: "x"}); err != nil {
				t.Fatal(err)
			}
			return req{"/v1/users/" + name, nil}
		}},
		{"POST", "admin", 201, func() req { return req{"/v1/keys", map[string]string{"name": "k" + fresh(), "role": "user"}} }},
		{"GET", "admin", 200, func() req { return req{"/v1/keys", nil} }},
		{"DELETE", "admin", 204, func() req {
			k, err := e.svc.Store().CreateAPIKey(ctx, catalog.APIKey{Name: "doomed", Role: "user", Hash: catalog.HashAPIKey("mq_" + fresh()), CreatedBy: "t"})
			if err != nil {
				t.Fatal(err)
			}
			return req{fmt.Sprintf("/v1/keys/%d", k.ID), nil}
		}},
	}
	for _, r := range routes {
		for _, c := range callers {
			rq := r.build()
			t.Run(r.method+" "+rq.path+" as "+c.name, func(t *testing.T) {
				want := r.ok
				switch {
				case r.access == "open":
				case c.kind == "bad":
					want = http.StatusUnauthorized
				case r.access == "public":
				case c.kind == "anonymous":
					want = http.StatusUnauthorized
				case c.kind == "user":
					want = http.StatusForbidden
				}
				res := e.do(t, r.method, rq.path, c.token, rq.body)
				if want >= 400 {
					wantProblem(t, res, want)
					return
				}
				if res.status != want {
					t.Fatalf("status = %d, want %d; body %s", res.status, want, res.body)
				}
			})
		}
	}
}
