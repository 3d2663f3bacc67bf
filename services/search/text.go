package search

import (
	"fmt"
	"strings"
	"unicode"

	"marquee/pkg/apperr"
)

// Text is a query text taken apart: the words to find, the quoted phrases the movie must contain, and the
// words and phrases it must not contain. The parts are raw text; the index analyzes them (case, accents,
// punctuation) exactly as it analyzes movies.
type Text struct {
	Words      []string // plain words, in the order typed
	Phrases    []string // "quoted phrases", without the quotes
	Excluded   []string // -word or -"phrase", without the minus and quotes
	PrefixLast bool     // the last word ends the text, so the user may still be typing it: match it as a prefix too
}

// IsZero reports whether the text asks for nothing (browse).
func (t Text) IsZero() bool { return len(t.Words) == 0 && len(t.Phrases) == 0 && len(t.Excluded) == 0 }

// ParseText takes a query text apart. The syntax never fails on a typed character: "quoted phrases" (an
// unclosed quote runs to the end), -word and -"phrase" to exclude, a '-' or '+' inside or alone is an
// ordinary character, and a leading '+' is ignored. It returns an apperr.Invalid error (field "q") only if
// the text has more than MaxTerms words.
func ParseText(s string) (Text, error) {
	var t Text
	rs := []rune(s)
	n := 0 // words counted, phrases by their words
	i := 0
	lastWordEnds := false
	for i < len(rs) {
		if unicode.IsSpace(rs[i]) {
			i++
			lastWordEnds = false
			continue
		}
		neg := false
		if (rs[i] == '-' || rs[i] == '+') && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
			neg = rs[i] == '-'
			i++
		}
		if rs[i] == '"' {
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				j++
			}
			phrase := strings.Join(strings.Fields(string(rs[i+1:j])), " ")
			i = min(j+1, len(rs))
			lastWordEnds = false
			if phrase == "" {
				continue
			}
			n += len(strings.Fields(phrase))
			if neg {
				t.Excluded = append(t.Excluded, phrase)
			} else {
				t.Phrases = append(t.Phrases, phrase)
			}
			continue
		}
		j := i
		for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '"' {
			j++
		}
		word := string(rs[i:j])
		i = j
		n++
		if neg {
			t.Excluded = append(t.Excluded, word)
			lastWordEnds = false
		} else {
			t.Words = append(t.Words, word)
			lastWordEnds = j == len(rs)
		}
	}
	t.PrefixLast = lastWordEnds && len(t.Words) > 0
	if n > MaxTerms {
		return Text{}, apperr.InvalidFields("The search parameters are not valid.", map[string]string{
			"q": fmt.Sprintf("must have at most %d words, not %d", MaxTerms, n),
		})
	}
	return t, nil
}
