package catalogapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// clientError fails the test if err would be a 5xx: every input must get a client error or none.
func clientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	switch c := apperr.CodeOf(err); c {
	case apperr.Invalid, apperr.TooLarge, apperr.PreconditionFailed:
	default:
		t.Fatalf("error %v has code %q, want a client error", err, c)
	}
}

func FuzzDecodeMovieBody(f *testing.F) {
	for _, s := range []string{
		`{"title":"Heat","year":1995,"directors":["Michael Mann"],"tmdb_id":949,"imdb_id":"tt0113277","poster_url":"https://x/y.jpg"}`,
		`{"title":" ","rating":1e400}`, `{"title":"x","keywords":[null]}`, `{"title":"x","original_language":"EN"}`,
		"{\"title\":\"\xff\"}", `[]`, `null`, `{"title":"x"} {}`, `{"title":"x","year":1.5}`, `{"poster_url":"http://[::1"}`,
		`{"title":"\u0000"}`, `{"title":"\u200b\ufeff"}`, `{"title":"\u001b[2J"}`, `{"title":"a\ud800"}`, `{"title":"a","title":"b"}`,
		`{"Title":"a"}`, `{"title":"a","popularity":1e308}`, `{"title":"a","votes":9223372036854775807}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := decodeMovieBody(data)
		clientError(t, err)
		if err == nil {
			if in.Title == "" || in.Keywords == nil {
				t.Fatalf("accepted %q as %+v", data, in)
			}
			again := in
			if err := again.Validate(); err != nil || !catalog.Same(&in, &again) {
				t.Fatalf("normalising is not idempotent for %q: %v", data, err)
			}
		}
	})
}

func FuzzApplyMergePatch(f *testing.F) {
	for _, s := range []string{
		`{"title":"New"}`, `{"rating":null,"tags":["a"]}`, `{"title":null}`, `{"bogus":1}`, `[]`, `null`, `"x"`,
		`{"year":"1999"}`, `{"tmdb_id":-1}`, `{"imdb_id":null,"poster_url":""}`, `{"cast":{"a":1}}`,
	} {
		f.Add([]byte(s))
	}
	year, tmdb := 1999, int64(603)
	cur := catalog.MovieInput{Title: "The Matrix", Year: &year, Genres: []string{"Action"}, TMDBID: &tmdb, Keywords: []string{}, Tags: []string{}}
	f.Fuzz(func(t *testing.T, patch []byte) {
		in, err := applyMergePatch(cur, patch)
		clientError(t, err)
		if err == nil && in.Title == "" {
			t.Fatalf("patch %q removed the title", patch)
		}
	})
}

func gzipped(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}

func FuzzParseImportBody(f *testing.F) {
	for _, s := range []string{
		`[{"title":"A"},{"title":"B"}]`, "{\"title\":\"A\"}\n\n{\"title\":\"B\"}\n", `[`, `[{"title":"A"}`, `[] x`,
		"\xef\xbb\xbf[{}]", "\x1f\x8b", "{not json\n{\"title\":\"x\"}",
	} {
		f.Add([]byte(s), false)
	}
	f.Add(gzipped([]byte(`[{"title":"A"}]`)), true)
	f.Add(gzipped([]byte("{\"title\":\"A\"}\n")), false)
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		recs, err := parseImportBody(body, gz)
		clientError(t, err)
		if len(recs) > MaxImportRecords {
			t.Fatalf("%d records", len(recs))
		}
		for _, r := range recs {
			_, err := decodeMovieBody(r)
			clientError(t, err)
		}
	})
}

func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"3"`, `W/"3"`, `3`, `*`, ``, `"a"`, `"1", "2"`, `"-1"`, `"+5"`, `"99999999999999999999"`, `W/`, `"1`, `W/"1`, `""`, `"01"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := parseIfMatch(h)
		clientError(t, err)
		if err == nil && v < 0 {
			t.Fatalf("If-Match %q gave version %d", h, v)
		}
	})
}

func FuzzCheckIdempotencyKey(f *testing.F) {
	for _, s := range []string{"abc-123", "", "clé", "a\tb", "550e8400-e29b-41d4-a716-446655440000"} {
		f.Add(s, false)
	}
	f.Add("x", true)
	f.Fuzz(func(t *testing.T, key string, twice bool) {
		values := []string{key}
		if twice {
			values = append(values, key)
		}
		got, ok, err := checkIdempotencyKey(values)
		clientError(t, err)
		if ok && (got != key || len(got) == 0 || len(got) > maxIdempotencyKeyLen || twice) {
			t.Fatalf("accepted %q (twice %v)", key, twice)
		}
	})
}

func TestLockoutDoubles(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLockout(func() time.Time { return now })
	const attacker = "192.0.2.1"
	for range pairFree - 1 {
		l.fail("ada", attacker)
	}
	if w := l.wait("ada", attacker); w != 0 {
		t.Fatalf("locked after %d failures: %v", pairFree-1, w)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for _, w := range want {
		l.fail("ada", attacker)
		if got := l.wait("ada", attacker); got != w {
			t.Fatalf("wait = %v, want %v", got, w)
		}
	}
	if got := l.wait("ada", "198.51.100.7"); got != 0 {
		t.Fatalf("the owner, on another client, waits %v", got)
	}
	for range 30 {
		l.fail("ada", attacker)
	}
	if got := l.wait("ada", attacker); got != lockoutMax {
		t.Fatalf("wait = %v, want the cap %v", got, lockoutMax)
	}
	now = now.Add(lockoutMax)
	if got := l.wait("ada", attacker); got != 0 {
		t.Fatalf("still locked: %v", got)
	}
	l.succeed("ada", "198.51.100.7")
	l.fail("ada", "198.51.100.7")
	if got := l.wait("ada", "198.51.100.7"); got != 0 {
		t.Fatalf("one failure locked: %v", got)
	}
	if l.wait("bob", "198.51.100.7") != 0 {
		t.Fatal("an unrelated name is locked")
	}
}

// TestLockoutClientBudget: one client spraying many usernames is slowed down after clientFree failures,
// and a success of its own does not reset its budget.
func TestLockoutClientBudget(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLockout(func() time.Time { return now })
	const sprayer = "192.0.2.9"
	for i := range clientFree - 1 {
		l.fail(fmt.Sprintf("user%d", i), sprayer)
	}
	l.succeed("mallory", sprayer)
	if w := l.wait("fresh", sprayer); w != 0 {
		t.Fatalf("slowed after %d failures: %v", clientFree-1, w)
	}
	l.fail("another", sprayer)
	if w := l.wait("fresh", sprayer); w != lockoutBase {
		t.Fatalf("a fresh username from the sprayer waits %v, want %v", w, lockoutBase)
	}
	if w := l.wait("fresh", "198.51.100.7"); w != 0 {
		t.Fatalf("another client waits %v", w)
	}
}

type memKeys struct{ keys []catalog.SigningKey }

func (m *memKeys) SigningKeys(context.Context) ([]catalog.SigningKey, error) { return m.keys, nil }
func (m *memKeys) AddSigningKey(_ context.Context, k catalog.SigningKey) error {
	m.keys = append(m.keys, k)
	return nil
}

func TestKeyringRetention(t *testing.T) {
	now := time.Unix(2_000_000, 0)
	ttl := 15 * time.Minute
	store := &memKeys{}
	for i := range 3 {
		k, err := catalog.NewSigningKey(now)
		if err != nil {
			t.Fatal(err)
		}
		k.Kid = string(rune('a' + i))
		k.CreatedAt = now.Add(time.Duration(i) * 24 * time.Hour) // a, b a day later, c a day after that
		store.keys = append(store.keys, k)
	}
	clock := now.Add(48*time.Hour + time.Hour) // an hour after c replaced b
	kr := newKeyring(slog.New(slog.DiscardHandler), store, ttl, func() time.Time { return clock })
	set, err := kr.jwks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Kid != "c" {
		t.Fatalf("published %+v, want only c (b retired over 2×TTL+margin ago)", set.Keys)
	}
	clock = now.Add(48*time.Hour + 2*ttl) // within b's retention
	kr = newKeyring(slog.New(slog.DiscardHandler), store, ttl, func() time.Time { return clock })
	if set, _ = kr.jwks(context.Background()); len(set.Keys) != 2 || set.Keys[0].Kid != "b" {
		t.Fatalf("published %+v, want b and c", set.Keys)
	}
	if _, err := kr.PublicKey(context.Background(), "a"); err == nil {
		t.Fatal("a retired key still verifies")
	}
	if _, err := kr.PublicKey(context.Background(), "b"); err != nil {
		t.Fatalf("b: %v", err)
	}
}
