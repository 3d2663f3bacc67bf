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
		Title:     "  The Wizard of Oz ",
		Overview:  "\nA girl. ",
		Genres:    []string{"Adventure", " Family", "Family ", " Fantasy"},
		Directors: nil,
		Cast:      []string{" Judy Garland"},
	}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	want := catalog.MovieInput{
		Title: "The Wizard of Oz", Overview: "A girl.", Genres: []string{"Adventure", "Family", "Fantasy"},
		Directors: []string{}, Cast: []string{"Judy Garland"},
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
	for _, want := range []string{`"directors":[]`, `"cast":[]`, `"genres":[]`, `"year":null`, `"rating":null`, `"occurred_at":"2026-11-26T12:00:00Z"`} {
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
