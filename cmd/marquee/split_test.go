package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/httpx"
	"marquee/pkg/testenv"
	"marquee/services/catalog/catalogtest"
)

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestSplitMode runs the three parts as separate servers talking over loopback HTTP, with the catalog on
// real MariaDB and the events on the real nats-server, and tells the same story as the all-in-one test.
func TestSplitMode(t *testing.T) {
	natsURL := testenv.NATSURL(t)
	dsn := catalogtest.MustMySQLDSN(t) // a fresh database, dropped after the test
	suffix := randomSuffix(t)
	stream, prefix := "TSPLIT_"+strings.ToUpper(suffix), "tsplit"+suffix
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", natsURL, err)
	}
	t.Cleanup(func() {
		if js, err := jetstream.New(nc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = js.DeleteStream(ctx, stream)
		}
		nc.Close()
	})
	seed, err := filepath.Abs("../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"MARQUEE_NATS_URL": natsURL, "MARQUEE_STREAM": stream, "MARQUEE_SUBJECT_PREFIX": prefix,
		"MARQUEE_ADMIN_USERNAME": "ops", "MARQUEE_ADMIN_PASSWORD": "split mode secret", "MARQUEE_RATE_LIMIT": "off",
		"MARQUEE_INTERNAL_TOKEN": internalToken,
	}
	cat := startCommand(t, env, "catalog", "--addr", "127.0.0.1:0", "--mysql-dsn", dsn, "--seed", seed)
	catalogURL := addrOf(t, cat.stderr, "listening")
	srch := startCommand(t, env, "search", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	searchURL := addrOf(t, srch.stderr, "listening")
	gw := startCommand(t, env, "gateway", "--addr", "127.0.0.1:0", "--catalog-url", catalogURL, "--search-url", searchURL)
	c := &client{t: t, base: addrOf(t, gw.stderr, "listening")}

	waitFor(t, "split-mode readiness", 60*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d: %s", r.status, r.body)
		}
		return nil
	})
	// A split gateway is ready once search is, which may be before the catalog has published the seed.
	waitFor(t, "the seed in split mode", 60*time.Second, func() error {
		if total := c.search("per_page=1").Total; total != 248 {
			return fmt.Errorf("%d movies, want 248", total)
		}
		return nil
	})
	exerciseCatalog(t, c, "ops", "split mode secret", 248) // its API key is checked through the internal endpoint

	// A browser session crosses the gateway's proxy: the cookie reaches the catalog and its successor comes
	// back, marked Secure for a client that came over https to a proxy in front.
	refreshCookie := func(r response) *http.Cookie {
		t.Helper()
		for _, ck := range (&http.Response{Header: r.header}).Cookies() {
			if ck.Name == "marquee_refresh" && ck.Value != "" {
				return ck
			}
		}
		t.Fatalf("no session cookie: %d %v %s", r.status, r.header, r.body)
		return nil
	}
	https := map[string]string{"X-Forwarded-Proto": "https"}
	first := refreshCookie(c.must(200, "POST", "/v1/auth/token", map[string]any{"username": "ops", "password": "split mode secret", "session": true}, https))
	https["Cookie"] = "marquee_refresh=" + first.Value
	next := refreshCookie(c.must(200, "POST", "/v1/auth/refresh", map[string]any{}, https))
	if !first.Secure || !next.Secure || next.Value == first.Value {
		t.Fatalf("session cookies through the proxy: %+v then %+v", first, next)
	}

	// The internal endpoints answer the deployment's services only: called directly without the internal
	// token, or with another, they refuse; with it, they answer.
	for _, tc := range []struct{ method, url string }{
		{"POST", searchURL + "/v1/index/rebuild"},
		{"GET", searchURL + "/v1/index/versions?after_id=0&until_id=10"},
		{"POST", catalogURL + "/v1/auth/introspect"},
	} {
		for _, sent := range []string{"", strings.Repeat("x", len(internalToken))} {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(`{"key":"mq_nothing"}`))
			req.Header.Set("Content-Type", "application/json")
			if sent != "" {
				req.Header.Set(httpx.InternalTokenHeader, sent)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s without the internal token: %d, want 401", tc.method, tc.url, resp.StatusCode)
			}
		}
	}
	req, _ := http.NewRequest("GET", searchURL+"/v1/index/versions?after_id=0&until_id=10", nil)
	req.Header.Set(httpx.InternalTokenHeader, internalToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("index versions with the internal token: %d, want 200", resp.StatusCode)
	}
}

// internalToken is the split test's internal_token.
const internalToken = "split-mode-internal-token-0123456789"
