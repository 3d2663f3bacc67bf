package search_test

import (
	"slices"
	"strings"
	"testing"

	"marquee/pkg/apperr"
	"marquee/services/search"
)

func TestParseText(t *testing.T) {
	tests := []struct {
		in   string
		want search.Text
	}{
		{in: "", want: search.Text{}},
		{in: "the godfather", want: search.Text{Words: []string{"the", "godfather"}, PrefixLast: true}},
		{in: `"crime family" mafia`, want: search.Text{Words: []string{"mafia"}, Phrases: []string{"crime family"}, PrefixLast: true}},
		{in: `mafia "crime  family"`, want: search.Text{Words: []string{"mafia"}, Phrases: []string{"crime family"}}},
		{in: `heist -ocean -"tower heist"`, want: search.Text{Words: []string{"heist"}, Excluded: []string{"ocean", `tower heist`}}},
		{in: `spider-man - +x`, want: search.Text{Words: []string{"spider-man", "-", "x"}, PrefixLast: true}},
		{in: `"unclosed phrase`, want: search.Text{Phrases: []string{"unclosed phrase"}}},
		{in: `""  -""`, want: search.Text{}},
		{in: `a"b"c`, want: search.Text{Words: []string{"a", "c"}, Phrases: []string{"b"}, PrefixLast: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := search.ParseText(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Words, tt.want.Words) || !slices.Equal(got.Phrases, tt.want.Phrases) ||
				!slices.Equal(got.Excluded, tt.want.Excluded) || got.PrefixLast != tt.want.PrefixLast {
				t.Errorf("ParseText(%q)=%+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
	if _, err := search.ParseText(strings.Repeat("w ", search.MaxTerms+1)); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("too many words: err=%v, want Invalid", err)
	}
}

// FuzzParseText: any text parses without panicking into parts that hold no quotes or blanks at their ends,
// or fails with an Invalid error about q.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{"", "the godfather", `"a b" -c -"d e"`, `"`, `-`, `--x`, `+-"x`, "amélie ", "\xff\xfe", strings.Repeat("x ", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		txt, err := search.ParseText(s)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) || apperr.FieldsOf(err)["q"] == "" {
				t.Fatalf("ParseText(%q) error %v is not an Invalid error about q", s, err)
			}
			return
		}
		for _, parts := range [][]string{txt.Words, txt.Phrases, txt.Excluded} {
			for _, p := range parts {
				if p == "" || strings.TrimSpace(p) != p {
					t.Fatalf("ParseText(%q) has part %q", s, p)
				}
			}
		}
		for _, w := range txt.Words {
			if strings.Contains(w, `"`) {
				t.Fatalf("ParseText(%q) has word %q with a quote", s, w)
			}
		}
	})
}

// TestParsedTextOnce: the parse Normalize makes to check the text is the one the index takes (the same
// words, not a second parse), copies of the query share it, and a text changed after Normalize is parsed
// anew rather than answered with the old words.
func TestParsedTextOnce(t *testing.T) {
	q := search.Query{Text: `  star "new hope" -empire `}
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	copied := q
	first, err := q.ParsedText()
	if err != nil {
		t.Fatal(err)
	}
	again, err := copied.ParsedText()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Words) != 1 || &first.Words[0] != &again.Words[0] {
		t.Fatalf("the text was parsed again after Normalize: %+v, %+v", first, again)
	}
	if !slices.Equal(first.Phrases, []string{"new hope"}) || !slices.Equal(first.Excluded, []string{"empire"}) {
		t.Fatalf("parse of %q = %+v", q.Text, first)
	}
	copied.Text = "alien"
	changed, err := copied.ParsedText()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed.Words, []string{"alien"}) || len(changed.Phrases) != 0 {
		t.Fatalf("a changed text answered with the old parse: %+v", changed)
	}
	if again, _ := q.ParsedText(); !slices.Equal(again.Words, []string{"star"}) {
		t.Fatalf("changing a copy's text changed the original's parse: %+v", again)
	}
}
