package searchapi_test

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"marquee/services/search/searchapi"
)

// nextCursor searches target and returns its next_cursor, which must be there.
func nextCursor(t *testing.T, h http.Handler, target string) string {
	t.Helper()
	w := do(h, target)
	var res struct {
		NextCursor string `json:"next_cursor"`
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &res) != nil || res.NextCursor == "" {
		t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	return res.NextCursor
}

// TestCursorIsBoundToItsSearch: a cursor continues only the search it was made for, and cannot be forged
// or edited; each misuse is a 400 problem naming the cursor.
func TestCursorIsBoundToItsSearch(t *testing.T) {
	h := newHandler(t, nil)
	const first = "/v1/movies?per_page=1&sort=title&genre=Drama"
	cur := nextCursor(t, h, first)
	if w := do(h, first+"&cursor="+cur); w.Code != 200 {
		t.Fatalf("the cursor's own search: %d %s", w.Code, w.Body)
	}
	if w := do(h, "/v1/movies?per_page=2&sort=title&genre=Drama&cursor="+cur); w.Code != 200 {
		t.Fatalf("another page size: %d %s", w.Code, w.Body)
	}
	// The cursor of page 2 continues without its page (which a cursor may not go with).
	const all = "/v1/movies?per_page=1&sort=title"
	if w := do(h, all+"&cursor="+nextCursor(t, h, all+"&page=2")); w.Code != 200 {
		t.Fatalf("the cursor of page 2: %d %s", w.Code, w.Body)
	}
	inner, _, _ := strings.Cut(cur, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(inner)
	edited := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"t":0`, `"t":1`, 1)))
	for name, target := range map[string]string{
		"another query":  "/v1/movies?per_page=1&sort=title&genre=Crime&cursor=" + cur,
		"another sort":   "/v1/movies?per_page=1&sort=-title&genre=Drama&cursor=" + cur,
		"another text":   "/v1/movies?per_page=1&sort=title&genre=Drama&q=heat&cursor=" + cur,
		"no filter":      "/v1/movies?per_page=1&sort=title&cursor=" + cur,
		"unsigned":       "/v1/movies?per_page=1&sort=title&genre=Drama&cursor=" + inner,
		"edited":         "/v1/movies?per_page=1&sort=title&genre=Drama&cursor=" + edited + cur[len(inner):],
		"bad signature":  "/v1/movies?per_page=1&sort=title&genre=Drama&cursor=" + inner + ".AAAA",
		"another server": "/v1/movies?per_page=1&sort=title&genre=Drama&cursor=" + nextCursor(t, newHandler(t, nil), first),
	} {
		t.Run(name, func(t *testing.T) {
			w := do(h, target)
			if w.Code != 400 {
				t.Fatalf("status = %d, want 400; %s", w.Code, w.Body)
			}
			if p := MustProblem(t, w); p.Errors["cursor"] == "" {
				t.Fatalf("problem does not name the cursor: %+v", p)
			}
		})
	}
	// Replicas configured with one key accept each other's cursors.
	key := []byte("0123456789abcdef0123456789abcdef")
	a := searchapi.NewHandlerWith(slog.New(slog.DiscardHandler), MustIndex(t), searchapi.Deps{CursorKey: key})
	b := searchapi.NewHandlerWith(slog.New(slog.DiscardHandler), MustIndex(t), searchapi.Deps{CursorKey: key})
	if w := do(b, first+"&cursor="+nextCursor(t, a, first)); w.Code != 200 {
		t.Fatalf("a cursor of a replica with the same key: %d %s", w.Code, w.Body)
	}
}
