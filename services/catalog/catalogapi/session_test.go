package catalogapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogapi"
	"marquee/services/catalog/password"
)

const refreshCookie = "marquee_refresh"

// cookieOf returns the refresh cookie a response sets, or nil.
func cookieOf(res response) *http.Cookie {
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == refreshCookie {
			return c
		}
	}
	return nil
}

// signIn signs in with a browser session and returns the refresh token its cookie holds.
func (e *env) signIn(t *testing.T, username, pw string, headers ...string) string {
	t.Helper()
	res := e.do(t, "POST", "/v1/auth/token", "", map[string]any{"username": username, "password": pw, "session": true}, headers...)
	c := cookieOf(res)
	if res.status != http.StatusOK || c == nil || c.Value == "" {
		t.Fatalf("sign-in with a session: %d %v %s", res.status, res.header, res.body)
	}
	return c.Value
}

// refresh calls POST /v1/auth/refresh with a refresh token.
func (e *env) refresh(t *testing.T, tok string) response {
	t.Helper()
	return e.raw(t, "POST", "/v1/auth/refresh", "", []byte("{}"), "Cookie", refreshCookie+"="+tok)
}

// wantRefreshed checks a refresh's answer and returns its access token and the next refresh token.
func wantRefreshed(t *testing.T, e *env, res response, old string) (access, next string) {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	c := cookieOf(res)
	if res.status != http.StatusOK || c == nil || c.Value == "" || c.Value == old {
		t.Fatalf("refresh: %d %v %s", res.status, res.header, res.body)
	}
	mustJSON(t, res.body, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != int64(e.cfg.TokenTTL.Seconds()) || tok.AccessToken == "" ||
		res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("refresh answer = %v %s", res.header, res.body)
	}
	return tok.AccessToken, c.Value
}

// wantSessionEnded checks a 401 problem that clears the cookie.
func wantSessionEnded(t *testing.T, res response) {
	t.Helper()
	wantProblem(t, res, http.StatusUnauthorized)
	if c := cookieOf(res); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("the cookie is not cleared: %v", res.header)
	}
}

func TestSessionCookie(t *testing.T) {
	e := newEnv(t, true)
	res := e.do(t, "POST", "/v1/auth/token", "", map[string]any{"username": adminName, "password": adminPass, "session": true})
	c := cookieOf(res)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/v1/auth" || c.Secure ||
		c.MaxAge != int(e.cfg.RefreshTTL.Seconds()) || len(c.Value) < 40 {
		t.Fatalf("refresh cookie = %+v", c)
	}
	res = e.do(t, "POST", "/v1/auth/token", "", map[string]any{"username": adminName, "password": adminPass, "session": true},
		"X-Forwarded-Proto", "https")
	if c := cookieOf(res); c == nil || !c.Secure {
		t.Fatalf("over https, the refresh cookie = %+v", c)
	}
	if res := e.do(t, "POST", "/v1/auth/token", "", map[string]string{"username": adminName, "password": adminPass}); cookieOf(res) != nil {
		t.Fatalf("a sign-in without a session sets %v", res.header)
	}
	admin := e.token(t, adminName, adminPass)
	key, _ := e.apiKey(t, admin, "ci", "admin")
	if res := e.do(t, "POST", "/v1/auth/token", "", map[string]any{"api_key": key}); res.status != 200 || cookieOf(res) != nil {
		t.Fatalf("an API key's token: %d %v", res.status, res.header)
	}
	res = e.do(t, "POST", "/v1/auth/token", "", map[string]any{"api_key": key, "session": true})
	wantProblem(t, res, http.StatusBadRequest)
	if cookieOf(res) != nil {
		t.Fatalf("an API key got a session: %v", res.header)
	}
}

func TestSessionRotation(t *testing.T) {
	e := newEnv(t, true)
	first := e.signIn(t, adminName, adminPass)
	access, second := wantRefreshed(t, e, e.refresh(t, first), first)
	if res := e.do(t, "GET", "/v1/users", access, nil); res.status != http.StatusOK {
		t.Fatalf("the renewed token: %d %s", res.status, res.body)
	}
	_, third := wantRefreshed(t, e, e.refresh(t, second), second)

	// first again: only a copy of the cookie can show a used token. The whole session ends.
	wantSessionEnded(t, e.refresh(t, first))
	wantSessionEnded(t, e.refresh(t, third))

	// Another sign-in is another session, untouched by the end of this one.
	other := e.signIn(t, adminName, adminPass)
	wantRefreshed(t, e, e.refresh(t, other), other)
}

func TestSessionDead(t *testing.T) {
	e := newEnv(t, true)
	wantSessionEnded(t, e.refresh(t, "no-such-token"))
	wantSessionEnded(t, e.raw(t, "POST", "/v1/auth/refresh", "", []byte("{}"))) // no cookie
	expired := catalog.RefreshToken{Hash: catalog.HashRefreshToken("expired"), Family: "f", Username: adminName, Role: catalog.RoleAdmin,
		StartedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Second)}
	if err := e.svc.Store().CreateRefreshToken(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	wantSessionEnded(t, e.refresh(t, "expired"))
}

// A session is a user's as it signed in: deleted, given a new password or another role, it ends.
func TestSessionFollowsItsUser(t *testing.T) {
	e := newEnv(t, true)
	admin := e.token(t, adminName, adminPass)
	ctx := context.Background()
	for name, change := range map[string]func(t *testing.T, u *catalog.User){
		"deleted": func(t *testing.T, u *catalog.User) {
			if res := e.do(t, "DELETE", "/v1/users/"+u.Username, admin, nil); res.status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", res.status, res.body)
			}
		},
		"new password": func(t *testing.T, u *catalog.User) {
			u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2g"
			if err := e.svc.Store().UpsertUser(ctx, *u); err != nil {
				t.Fatal(err)
			}
		},
		"new role": func(t *testing.T, u *catalog.User) {
			u.Role = catalog.RoleAdmin
			if err := e.svc.Store().UpsertUser(ctx, *u); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			username := map[string]string{"deleted": "gone", "new password": "renamed", "new role": "promoted"}[name]
			res := e.do(t, "POST", "/v1/users", admin, map[string]string{"username": username, "password": "twelve-chars-ok", "role": "user"})
			if res.status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.status, res.body)
			}
			tok := e.signIn(t, username, "twelve-chars-ok")
			_, tok = wantRefreshed(t, e, e.refresh(t, tok), tok)
			u, err := e.svc.Store().UserByName(ctx, username)
			if err != nil {
				t.Fatal(err)
			}
			change(t, u)
			wantSessionEnded(t, e.refresh(t, tok))
		})
	}
}

func TestSessionLogout(t *testing.T) {
	e := newEnv(t, true)
	tok := e.signIn(t, adminName, adminPass)
	_, tok = wantRefreshed(t, e, e.refresh(t, tok), tok)
	res := e.raw(t, "POST", "/v1/auth/logout", "", []byte("{}"), "Cookie", refreshCookie+"="+tok)
	if c := cookieOf(res); res.status != http.StatusNoContent || c == nil || c.MaxAge >= 0 {
		t.Fatalf("logout: %d %v %s", res.status, res.header, res.body)
	}
	wantSessionEnded(t, e.refresh(t, tok))
	if res := e.raw(t, "POST", "/v1/auth/logout", "", []byte("{}")); res.status != http.StatusNoContent {
		t.Fatalf("logout without a session: %d %s", res.status, res.body)
	}
}

// A cross-site form can post to the session routes but cannot send JSON: such a request changes nothing.
func TestSessionNeedsJSON(t *testing.T) {
	e := newEnv(t, true)
	tok := e.signIn(t, adminName, adminPass)
	for _, path := range []string{"/v1/auth/refresh", "/v1/auth/logout"} {
		for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", ""} {
			res := e.raw(t, "POST", path, "", []byte("a=b"), "Cookie", refreshCookie+"="+tok, "Content-Type", ct)
			wantProblem(t, res, http.StatusUnsupportedMediaType)
			if cookieOf(res) != nil {
				t.Fatalf("%s as %q set %v", path, ct, res.header)
			}
		}
	}
	wantRefreshed(t, e, e.refresh(t, tok), tok) // neither rotated nor ended
}

// downStore is a store whose users cannot be looked up while down is set.
type downStore struct {
	catalogapi.Store
	down atomic.Bool
}

func (s *downStore) UserByName(ctx context.Context, name string) (*catalog.User, error) {
	if s.down.Load() {
		return nil, apperr.Errorf(apperr.Unavailable, "The catalog database is unavailable; try again shortly.")
	}
	return s.Store.UserByName(ctx, name)
}

// A refresh that rotated its token but then cannot check the user answers 503 with the new token: the
// client's retry then works, where the used token would have ended the session.
func TestSessionSurvivesAFailedRefresh(t *testing.T) {
	e := newEnv(t, true)
	store := &downStore{Store: e.svc.Store()}
	srv := httptest.NewServer(catalogapi.NewHandler(slog.New(slog.DiscardHandler), catalogapi.Deps{
		Store: store, Passwords: password.NewHasher(1), TokenTTL: e.cfg.TokenTTL, RefreshTTL: e.cfg.RefreshTTL}))
	t.Cleanup(srv.Close)
	e.srv = srv
	tok := e.signIn(t, adminName, adminPass)
	store.down.Store(true)
	res := e.refresh(t, tok)
	wantProblem(t, res, http.StatusServiceUnavailable)
	c := cookieOf(res)
	if c == nil || c.Value == "" || c.Value == tok || c.MaxAge <= 0 {
		t.Fatalf("a refresh that failed after rotating sets %v", res.header)
	}
	store.down.Store(false)
	wantRefreshed(t, e, e.refresh(t, c.Value), c.Value)
}
