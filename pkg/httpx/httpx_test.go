package httpx_test

import (
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.in))
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
		r.Body = http.MaxBytesReader(w, r.Body, 20)
		if err := httpx.DecodeJSON(r, 0, &body{}); !apperr.Is(err, apperr.TooLarge) {
			t.Fatalf("err = %v, want TooLarge", err)
		}
	})
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
