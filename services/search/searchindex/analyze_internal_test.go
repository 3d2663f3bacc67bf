package searchindex

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The search analyzes hits' text (match kinds, highlights) and queries with a fast path for ASCII text;
// it must give exactly the words the index's analyzer gives, or a highlight or a query word would miss.
func TestAnalyzeAsTheIndexDoes(t *testing.T) {
	m, err := newMapping()
	if err != nil {
		t.Fatal(err)
	}
	x := &Index{mapping: m}
	texts := []string{"", "   ", "Don't LOOK up", "U.S.A.", "3.14 and 2,000", "R2-D2 & C-3PO", "e-mail@example.com",
		"C++ #1 x_y 'quoted' (paren)", "HELLO World", "Amélie", "naïve café ÆON straße", "Mötley Crüe", "日本の映画",
		"tab\tnew\nline", "ALL-CAPS-TITLE: PART II", "l'amour", "rock'n'roll", "Ocean's Eleven", "$100,000.00",
		"a \u0301b \u0301", "a\u00a0b  c", "school’s  l’amour d’été", "½ ﬁne Ａ x", "x \u200db", "\t \n", " lead and trail "}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "data", "imdb.json"))
	if err != nil {
		t.Fatal(err)
	}
	var seed []map[string]any
	if err := json.Unmarshal(b, &seed); err != nil {
		t.Fatal(err)
	}
	for _, mv := range seed {
		for _, v := range mv {
			switch v := v.(type) {
			case string:
				texts = append(texts, v)
			case []any:
				for _, s := range v {
					if s, ok := s.(string); ok {
						texts = append(texts, s)
					}
				}
			}
		}
	}
	analyzer := m.AnalyzerNamed(textAnalyzer)
	ascii := 0
	for _, text := range texts {
		var want []string
		for _, tok := range analyzer.Analyze([]byte(text)) {
			want = append(want, string(tok.Term))
		}
		if got := x.analyze(text); !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Errorf("analyze(%q) = %q, the analyzer gives %q", text, got, want)
		}
		// Word by word, as highlighting does: each word of the tokenizer, analyzed alone.
		for _, tok := range tokenize(text) {
			var alone []string
			for _, a := range analyzer.Analyze(tok.Term) {
				alone = append(alone, string(a.Term))
			}
			if got := x.analyzeToken(tok.Term); !slices.Equal(got, alone) && len(got)+len(alone) > 0 {
				t.Errorf("analyzeToken(%q) = %q, the analyzer gives %q", tok.Term, got, alone)
			}
		}
		// Run by run between spaces, as the hits are judged: the same words, at the same offsets.
		var runs []string
		var runToks [][3]int
		eachSpaced(text, func(at int, chunk string) bool {
			runs = append(runs, x.analyze(chunk)...)
			for _, tok := range tokenize(chunk) {
				runToks = append(runToks, [3]int{at + tok.Start, at + tok.End, int(tok.Type)})
			}
			return true
		})
		if !slices.Equal(runs, want) && len(runs)+len(want) > 0 {
			t.Errorf("analyze of %q between spaces = %q, the analyzer gives %q", text, runs, want)
		}
		var whole [][3]int
		for _, tok := range tokenize(text) {
			whole = append(whole, [3]int{tok.Start, tok.End, int(tok.Type)})
		}
		if !slices.Equal(runToks, whole) {
			t.Errorf("tokenize of %q between spaces = %v, whole %v", text, runToks, whole)
		}
		if isASCII(text) && strings.TrimSpace(text) != "" {
			ascii++
		}
	}
	if ascii < 500 {
		t.Errorf("only %d ASCII texts checked: the seed catalog was not read", ascii)
	}
}

// TestTypedTitleKey: the spellings of one title that people type share one key, and different titles do not.
func TestTypedTitleKey(t *testing.T) {
	for _, same := range [][]string{
		{"rocky ii", "rocky 2", "rocky two"},
		{"alien3", "alien 3", "alien three", "alien iii"},
		{"ocean's eleven", "oceans 11", "oceans xi"},
		{"star wars episode v", "star wars episode 5", "star wars episode five"},
	} {
		for _, k := range same[1:] {
			if a, b := typedTitleKey(same[0]), typedTitleKey(k); a != b {
				t.Errorf("%q → %q, %q → %q: want one key", same[0], a, k, b)
			}
		}
	}
	for _, pair := range [][2]string{{"rocky ii", "rocky iii"}, {"se7en", "seven"}, {"heat", "heats"}} {
		if typedTitleKey(pair[0]) == typedTitleKey(pair[1]) {
			t.Errorf("%q and %q share a key", pair[0], pair[1])
		}
	}
}

// TestNumerals: a number typed one way matches it written the other ways, but a word is not every one-letter
// Roman numeral (ten is not every X), and i and one are left alone.
func TestNumerals(t *testing.T) {
	for typed, want := range map[string][]string{"2": {"ii", "two"}, "ii": {"2", "two"}, "two": {"2", "ii"}, "10": {"x", "ten"}, "ten": {"10"}} {
		if got := numerals[typed]; !slices.Equal(got, want) {
			t.Errorf("numerals[%q] = %q, want %q", typed, got, want)
		}
	}
	for _, none := range []string{"i", "one", "1", "x", "v"} {
		if got, ok := numerals[none]; ok {
			t.Errorf("numerals[%q] = %q, want none", none, got)
		}
	}
}
