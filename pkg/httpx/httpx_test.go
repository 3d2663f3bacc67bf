package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
)

type body struct {
	Title string `json:"title"`
	Year  int    `json:"year"`
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		limit    int64
		code     apperr.Code
		detail   string
	}{
		{"valid", `{"title":"Heat","year":1995}`, 0, "", ""},
		{"empty", ``, 0, apperr.Invalid, "empty"},
		{"unknown field", `{"title":"x","rating":9}`, 0, apperr.Invalid, `unknown field "rating"`},
		{"wrong type", `{"title":"x","year":"1995"}`, 0, apperr.Invalid, `field "year" must be an integer`},
		{"syntax", `{"title":}`, 0, apperr.Invalid, "malformed JSON"},
		{"trailing data", `{"title":"x"} {}`, 0, apperr.Invalid, "after the JSON value"},
		{"invalid utf-8", "{\"title\":\"\xff\"}", 0, apperr.Invalid, "UTF-8"},
		{"too large", `{"title":"` + strings.Repeat("a", 100) + `"}`, 50, apperr.TooLarge, "over 50 bytes"},
		{"duplicate field", `{"title":"Heat","title":"Cold"}`, 0, apperr.Invalid, `"title" appears more than once`},
		{"field in another case", `{"Title":"Heat"}`, 0, apperr.Invalid, `unknown field "Title"`},
		{"lone surrogate", `{"title":"\ud800"}`, 0, apperr.Invalid, "surrogate"},
		{"integer out of range", `{"title":"x","year":99999999999999999999}`, 0, apperr.Invalid, `"year" must be an integer in range`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.in))
			r.Header.Set("Content-Type", "application/json")
			var b body
			err := httpx.DecodeJSON(r, tc.limit, &b)
			if tc.code == "" {
				if err != nil || b.Title != "Heat" || b.Year != 1995 {
					t.Fatalf("DecodeJSON = %v, %+v", err, b)
				}
				return
			}
			if got := apperr.CodeOf(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if !strings.Contains(apperr.MessageOf(err), tc.detail) {
				t.Fatalf("message %q does not mention %q", apperr.MessageOf(err), tc.detail)
			}
		})
	}
	t.Run("outer MaxBytesReader", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"title":"`+strings.Repeat("a", 100)+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Body = http.MaxBytesReader(w, r.Body, 20)
		if err := httpx.DecodeJSON(r, 0, &body{}); !apperr.Is(err, apperr.TooLarge) {
			t.Fatalf("err = %v, want TooLarge", err)
		}
	})
}

func TestDecodeJSONContentType(t *testing.T) {
	for _, tc := range []struct {
		contentType string
		ok          bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"application/json; charset=latin1", false},
		{"application/jsonp", false},
		{"application/json;;", false},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"title":"Heat","year":1995}`))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			err := httpx.DecodeJSON(r, 0, &body{})
			if tc.ok && err != nil {
				t.Fatalf("DecodeJSON = %v, want ok", err)
			}
			if !tc.ok && httpx.StatusOf(err) != http.StatusUnsupportedMediaType {
				t.Fatalf("DecodeJSON = %v, want 415", err)
			}
		})
	}
}

func TestAnswersAreNotSniffed(t *testing.T) {
	e := httpx.NewEngine(slog.New(slog.DiscardHandler))
	e.GET("/json", func(c *gin.Context) { c.JSON(200, gin.H{"a": 1}) })
	for _, path := range []string{"/json", "/nope"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if got := w.Header().Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Fatalf("GET %s: X-Content-Type-Options = %q, want nosniff once", path, got)
		}
	}
	w := httptest.NewRecorder()
	httpx.WriteJSON(w, 200, map[string]int{"a": 1})
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Fatalf("WriteJSON: X-Content-Type-Options = %q", got)
	}
}

func TestServeHEAD(t *testing.T) {
	e := httpx.NewEngine(slog.New(slog.DiscardHandler))
	e.GET("/thing", func(c *gin.Context) { c.Header("ETag", `"1"`); c.String(200, "body") })
	e.POST("/form", func(c *gin.Context) { c.Status(204) })
	h := httpx.ServeHEAD(e)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/thing", nil))
	if w.Code != 200 || w.Header().Get("ETag") != `"1"` || w.Body.Len() != 0 {
		t.Fatalf("HEAD /thing = %d %q body %q, want 200 with the GET headers and no body", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/form", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD on a POST-only route = %d, want 405", w.Code)
	}
}

// A server error caused by the client going away is 499 in the log and the metrics, not a 5xx.
func TestErrorOfAGoneClientIs499(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelError}))
	e := httpx.NewEngine(log)
	e.GET("/search", func(c *gin.Context) {
		<-c.Request.Context().Done()
		httpx.Error(c, fmt.Errorf("search: %w", c.Request.Context().Err()))
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/search", nil).WithContext(ctx))
	if w.Code != httpx.StatusClientClosed {
		t.Fatalf("status = %d, want 499", w.Code)
	}
	if logged.Len() != 0 {
		t.Fatalf("a gone client was logged as an error: %s", logged.String())
	}
}

func TestEngineAnswersProblems(t *testing.T) {
	e := httpx.NewEngine(slog.New(slog.DiscardHandler))
	e.GET("/boom", func(*gin.Context) { panic("kaboom") })
	e.GET("/internal", func(c *gin.Context) { httpx.Error(c, fmt.Errorf("db: %w", errors.New("password=secret"))) })
	e.GET("/missing", func(c *gin.Context) { httpx.Error(c, apperr.Errorf(apperr.NotFound, "Movie 7 not found.")) })
	for _, tc := range []struct {
		method, path string
		status       int
		code         apperr.Code
	}{
		{"GET", "/nope", 404, apperr.NotFound},
		{"POST", "/missing", 405, apperr.MethodNotAllowed},
		{"GET", "/boom", 500, apperr.Internal},
		{"GET", "/internal", 500, apperr.Internal},
		{"GET", "/missing", 404, apperr.NotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			e.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != httpx.ProblemContentType {
				t.Fatalf("Content-Type = %q", ct)
			}
			var p httpx.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Code != tc.code || p.Status != tc.status || p.Type != httpx.ProblemType(tc.code) {
				t.Fatalf("problem = %+v", p)
			}
			if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "kaboom") {
				t.Fatalf("internal detail leaked: %s", w.Body)
			}
		})
	}
}

// TestRequireInternal: with a token set, a request without it or with another is refused with 401
// problem+json and does not reach the handler; with it, it does; without a token set, every request does.
func TestRequireInternal(t *testing.T) {
	token := strings.Repeat("s", httpx.MinInternalToken)
	for _, tc := range []struct {
		name, set, sent string
		want            int
	}{
		{"none sent", token, "", http.StatusUnauthorized},
		{"another", token, strings.Repeat("x", httpx.MinInternalToken), http.StatusUnauthorized},
		{"a prefix", token, token[:10], http.StatusUnauthorized},
		{"the token", token, token, http.StatusOK},
		{"no token set", "", "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := httpx.NewEngine(slog.New(slog.DiscardHandler))
			reached := false
			e.POST("/internal", httpx.RequireInternal(tc.set), func(c *gin.Context) { reached = true; c.Status(http.StatusOK) })
			r := httptest.NewRequest(http.MethodPost, "/internal", nil)
			if tc.sent != "" {
				r.Header.Set(httpx.InternalTokenHeader, tc.sent)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != tc.want || reached != (tc.want == http.StatusOK) {
				t.Fatalf("status %d, reached %v; want %d", w.Code, reached, tc.want)
			}
			if tc.want == http.StatusUnauthorized && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("refusal's content type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}
