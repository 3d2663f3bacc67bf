package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"marquee/pkg/testenv"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/catalog/catalogtest"
	"marquee/services/gateway"
)

// TestRevocationAtEveryGateway: two gateway replicas in front of one catalog. Once bob, an admin, is
// deleted through one of them, his access token and his API key are refused within a second at both, on
// the routes of both backends.
func TestRevocationAtEveryGateway(t *testing.T) {
	ctx := context.Background()
	cfg := catalogsvc.DefaultConfig()
	cfg.Stream, cfg.SubjectPrefix = "CATALOG_REVOKE_TEST", "revoketest"
	cfg.AdminUsername, cfg.AdminPassword = "root", "correct-horse-battery"
	cat, err := catalogsvc.New(ctx, cfg, catalogsvc.Deps{DB: catalogtest.MustOpenSQLite(t), Dialect: catalogsql.SQLite, JS: testenv.JetStream(t), Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cat.Close() })
	search := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	var gws [2]http.Handler
	for i := range gws {
		gws[i] = gateway.NewHandler(slog.New(slog.DiscardHandler), gateway.Backends{Catalog: cat.Handler(), Search: search},
			gateway.Options{RateLimits: gateway.RateLimits{Off: true}})
	}
	call := func(gw http.Handler, method, path, cred string, body any) (int, []byte) {
		t.Helper()
		var data []byte
		if body != nil {
			data, _ = json.Marshal(body)
		}
		r := httptest.NewRequest(method, path, bytes.NewReader(data))
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		if cred != "" {
			r.Header.Set("Authorization", "Bearer "+cred)
		}
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
	token := func(username, password string) string {
		t.Helper()
		code, body := call(gws[0], "POST", "/v1/auth/token", "", map[string]string{"username": username, "password": password})
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if code != 200 || json.Unmarshal(body, &tok) != nil {
			t.Fatalf("token for %s: %d %s", username, code, body)
		}
		return tok.AccessToken
	}
	root := token("root", "correct-horse-battery")
	if code, body := call(gws[0], "POST", "/v1/users", root, map[string]string{"username": "bob", "password": "bob's long passphrase", "role": "admin"}); code != 201 {
		t.Fatalf("create bob: %d %s", code, body)
	}
	bob := token("bob", "bob's long passphrase")
	code, body := call(gws[1], "POST", "/v1/keys", bob, map[string]string{"name": "bob's", "role": "admin"})
	var key struct {
		Key string `json:"key"`
	}
	if code != 201 || json.Unmarshal(body, &key) != nil {
		t.Fatalf("bob's key: %d %s", code, body)
	}
	for _, gw := range gws { // both replicas have seen (and cached) both credentials working
		for _, cred := range []string{bob, key.Key} {
			for _, path := range []string{"/v1/users", "/v1/index/rebuild"} {
				if code, body := call(gw, "GET", path, cred, nil); code != 200 {
					t.Fatalf("GET %s before the delete: %d %s", path, code, body)
				}
			}
		}
	}
	if code, body := call(gws[0], "DELETE", "/v1/users/bob", root, nil); code != 204 {
		t.Fatalf("delete bob: %d %s", code, body)
	}
	// Within a second: the gateways cache the catalog's answer about a credential for key_cache_ttl (1 s);
	// the extra second is slack for a loaded machine, not part of the promise.
	deadline := time.Now().Add(gateway.DefaultConfig().KeyCacheTTL + time.Second)
	for _, gw := range gws {
		for _, cred := range []string{bob, key.Key} {
			for _, path := range []string{"/v1/users", "/v1/index/rebuild"} {
				for {
					code, _ := call(gw, "GET", path, cred, nil)
					if code == 401 {
						break
					}
					if code != 200 || time.Now().After(deadline) {
						t.Fatalf("GET %s with bob's credential after the delete: still %d", path, code)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			if code, _ := call(gw, "POST", "/v1/users", cred, map[string]string{"username": "bob2", "password": "bob's long passphrase", "role": "admin"}); code != 401 {
				t.Fatalf("bob created a user after his delete: %d", code)
			}
		}
	}
}
