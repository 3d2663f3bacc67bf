package catalog_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/services/catalog"
)

func ptr[T any](v T) *T { return &v }

func TestMovieInputValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // counts characters, not bytes
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "g" + strings.Repeat("x", i)
		}
		return out
	}
	tests := []struct {
		name string
		in   catalog.MovieInput
		bad  []string // fields reported; none means valid
	}{
		{"minimal", catalog.MovieInput{Title: "Heat"}, nil},
		{"full", catalog.MovieInput{Title: "Heat", Year: ptr(1995), RuntimeMinutes: ptr(170), Rating: ptr(8.3),
			Votes: ptr(int64(700000)), Popularity: ptr(0.0), Directors: []string{"Michael Mann"}}, nil},
		{"edges", catalog.MovieInput{Title: long(300), Year: ptr(1870), RuntimeMinutes: ptr(2000), Rating: ptr(10.0),
			Overview: long(10_000), Genres: many(50)}, nil},
		{"blank title", catalog.MovieInput{Title: " \t "}, []string{"title"}},
		{"long title", catalog.MovieInput{Title: long(301)}, []string{"title"}},
		{"long overview", catalog.MovieInput{Title: "x", Overview: long(10_001)}, []string{"overview"}},
		{"years", catalog.MovieInput{Title: "x", Year: ptr(1869)}, []string{"year"}},
		{"year 2101", catalog.MovieInput{Title: "x", Year: ptr(2101)}, []string{"year"}},
		{"runtime 0", catalog.MovieInput{Title: "x", RuntimeMinutes: ptr(0)}, []string{"runtime_minutes"}},
		{"rating", catalog.MovieInput{Title: "x", Rating: ptr(10.1)}, []string{"rating"}},
		{"negative rating", catalog.MovieInput{Title: "x", Rating: ptr(-0.1)}, []string{"rating"}},
		{"NaN rating", catalog.MovieInput{Title: "x", Rating: ptr(math.NaN())}, []string{"rating"}},
		{"popularity", catalog.MovieInput{Title: "x", Popularity: ptr(-1.0)}, []string{"popularity"}},
		{"votes", catalog.MovieInput{Title: "x", Votes: ptr(int64(-1))}, []string{"votes"}},
		{"empty item", catalog.MovieInput{Title: "x", Cast: []string{"a", "  "}}, []string{"cast"}},
		{"long item", catalog.MovieInput{Title: "x", Directors: []string{long(201)}}, []string{"directors"}},
		{"51 items", catalog.MovieInput{Title: "x", Genres: many(51)}, []string{"genres"}},
		{"everything", catalog.MovieInput{Year: ptr(1), Rating: ptr(11.0), Votes: ptr(int64(-5))}, []string{"title", "year", "rating", "votes"}},
		{"new fields", catalog.MovieInput{Title: "x", Tagline: long(500), Keywords: many(100), Tags: many(100), OriginalLanguage: "en",
			PosterURL: "https://image.tmdb.org/t/p/w500/x.jpg", TMDBID: ptr(int64(603)), IMDbID: ptr(" tt0133093 ")}, nil},
		{"three-letter language", catalog.MovieInput{Title: "x", OriginalLanguage: "yue"}, nil},
		{"blank imdb id is none", catalog.MovieInput{Title: "x", IMDbID: ptr("  ")}, nil},
		{"long tagline", catalog.MovieInput{Title: "x", Tagline: long(501)}, []string{"tagline"}},
		{"101 keywords", catalog.MovieInput{Title: "x", Keywords: many(101)}, []string{"keywords"}},
		{"101 tags", catalog.MovieInput{Title: "x", Tags: many(101)}, []string{"tags"}},
		{"long keyword", catalog.MovieInput{Title: "x", Keywords: []string{long(201)}}, []string{"keywords"}},
		{"51 cast", catalog.MovieInput{Title: "x", Cast: many(51)}, []string{"cast"}},
		{"language", catalog.MovieInput{Title: "x", OriginalLanguage: "EN"}, []string{"original_language"}},
		{"language length", catalog.MovieInput{Title: "x", OriginalLanguage: "engl"}, []string{"original_language"}},
		{"certifications", catalog.MovieInput{Title: "x", Certification: " pg-13 "}, nil},
		{"certification with a space", catalog.MovieInput{Title: "x", Certification: "FSK 12"}, nil},
		{"certification mark", catalog.MovieInput{Title: "x", Certification: "PG_13"}, []string{"certification"}},
		{"long certification", catalog.MovieInput{Title: "x", Certification: strings.Repeat("A", 17)}, []string{"certification"}},
		{"relative poster", catalog.MovieInput{Title: "x", PosterURL: "/t/p/x.jpg"}, []string{"poster_url"}},
		{"ftp poster", catalog.MovieInput{Title: "x", PosterURL: "ftp://h/x.jpg"}, []string{"poster_url"}},
		{"poster with space", catalog.MovieInput{Title: "x", PosterURL: "https://h/a b.jpg"}, []string{"poster_url"}},
		{"long poster", catalog.MovieInput{Title: "x", PosterURL: "https://h/" + strings.Repeat("a", 991)}, []string{"poster_url"}},
		{"tmdb id 0", catalog.MovieInput{Title: "x", TMDBID: ptr(int64(0))}, []string{"tmdb_id"}},
		{"imdb id", catalog.MovieInput{Title: "x", IMDbID: ptr("nm0000206")}, []string{"imdb_id"}},
		{"imdb id digits", catalog.MovieInput{Title: "x", IMDbID: ptr("tt1234")}, []string{"imdb_id"}},
		{"invalid UTF-8", catalog.MovieInput{Title: "ok", Overview: "a\xffb", Genres: []string{"\xfe"}}, []string{"overview", "genres"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if len(tt.bad) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want ok", err)
				}
				return
			}
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("Validate = %v, want Invalid", err)
			}
			fields := apperr.FieldsOf(err)
			if len(fields) != len(tt.bad) {
				t.Errorf("fields = %v, want exactly %v", fields, tt.bad)
			}
			for _, f := range tt.bad {
				if fields[f] == "" {
					t.Errorf("no problem reported for %q: %v", f, fields)
				}
			}
		})
	}
}

func TestMovieInputNormalises(t *testing.T) {
	in := catalog.MovieInput{
		Title:         "  The Wizard of Oz ",
		Overview:      "\nA girl. ",
		Genres:        []string{"Adventure", " Family", "Family ", " Fantasy"},
		Directors:     nil,
		Cast:          []string{" Judy Garland"},
		Certification: " pg ",
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	want := catalog.MovieInput{
		Title: "The Wizard of Oz", Overview: "A girl.", Genres: []string{"Adventure", "Family", "Fantasy"},
		Directors: []string{}, Cast: []string{"Judy Garland"}, Keywords: []string{}, Tags: []string{}, Certification: "PG",
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("normalised = %#v\nwant %#v", in, want)
	}
}

func TestEvents(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m := &catalog.Movie{ID: 42, Title: "The Matrix", Version: 3, CreatedAt: at.Add(-time.Hour), UpdatedAt: at}
	up := catalog.UpsertEvent(m)
	if err := up.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := up.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Lists are [] on the wire, never null, and optional numbers are null.
	for _, want := range []string{`"directors":[]`, `"cast":[]`, `"genres":[]`, `"keywords":[]`, `"tags":[]`, `"year":null`,
		`"rating":null`, `"tmdb_id":null`, `"imdb_id":null`, `"tagline":""`, `"occurred_at":"2026-11-26T12:00:00Z"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("event lacks %s: %s", want, data)
		}
	}
	del := catalog.DeleteEvent(42, 4, at)
	if err := del.Validate(); err != nil || del.Type != events.MovieDeleted || del.Movie != nil {
		t.Fatalf("tombstone = %+v, %v", del, err)
	}
	var back events.MovieChanged
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back.Movie, catalog.EventMovie(m)) {
		t.Errorf("round trip = %+v, %v", back.Movie, err)
	}
}

func TestDiff(t *testing.T) {
	created := catalog.Diff(nil, &catalog.MovieInput{Title: "Heat", Year: ptr(1995), Genres: []string{}, TMDBID: ptr(int64(949))})
	if len(created) != 3 || string(created["title"].From) != "null" || string(created["title"].To) != `"Heat"` ||
		string(created["tmdb_id"].To) != "949" {
		t.Fatalf("creation diff = %v", created)
	}
	before := catalog.MovieInput{Title: "Heat", Year: ptr(1995), Genres: []string{"Crime"}, Rating: ptr(8.3)}
	after := before
	after.Year, after.Genres, after.Rating = ptr(1996), []string{"Crime", "Drama"}, nil
	d := catalog.Diff(&before, &after)
	want := map[string][2]string{"year": {"1995", "1996"}, "genres": {`["Crime"]`, `["Crime","Drama"]`}, "rating": {"8.3", "null"}}
	if len(d) != len(want) {
		t.Fatalf("diff = %v", d)
	}
	for f, w := range want {
		if string(d[f].From) != w[0] || string(d[f].To) != w[1] {
			t.Errorf("%s: %s -> %s, want %s -> %s", f, d[f].From, d[f].To, w[0], w[1])
		}
	}
	nilList := before
	nilList.Genres = nil
	empty := before
	empty.Genres = []string{}
	if !catalog.Same(&nilList, &empty) || catalog.Same(&before, &after) {
		t.Error("Same is wrong")
	}
}

func TestAPIKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		k, err := catalog.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k, "mq_") || len(k) != 39 || !catalog.IsAPIKey(k) || seen[k] {
			t.Fatalf("key %q", k)
		}
		seen[k] = true
		// Any one-character change breaks the checksum.
		b := []byte(k)
		b[10] ^= 1
		if catalog.IsAPIKey(string(b)) {
			t.Fatalf("typo in %q not caught", k)
		}
		if h := catalog.HashAPIKey(k); len(h) != 32 {
			t.Fatalf("hash of %d bytes", len(h))
		}
	}
	for _, bad := range []string{"", "mq_", "mq_short", "gh_" + strings.Repeat("a", 36), "mq_" + strings.Repeat("!", 36)} {
		if catalog.IsAPIKey(bad) {
			t.Errorf("IsAPIKey(%q) = true", bad)
		}
	}
}

func TestValidateNewUser(t *testing.T) {
	name := "  Ada "
	if err := catalog.ValidateNewUser(&name, "long-enough-pw", catalog.RoleUser); err != nil || name != "ada" {
		t.Fatalf("ValidateNewUser = %v, name %q", err, name)
	}
	bad := "-x"
	err := catalog.ValidateNewUser(&bad, "short", "root")
	if f := apperr.FieldsOf(err); len(f) != 3 {
		t.Fatalf("fields = %v", f)
	}
}
