package searchindex

import (
	"fmt"
	"html"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	blevesearch "github.com/blevesearch/bleve/v2/search"

	"marquee/services/search"
)

// snippetRunes is about how much of a long field a highlight shows around its first match.
const snippetRunes = 160

// hit turns a Bleve hit into a search hit: the stored movie, its score, how it matched and its highlights.
func (x *Index) hit(h *blevesearch.DocumentMatch, p *plan, tierMatch search.Match, scored bool) (search.Hit, error) {
	src, _ := h.Fields[fieldSource].(string)
	m, err := decodeSource([]byte(src))
	if err != nil {
		return search.Hit{}, fmt.Errorf("hit %s: %w", h.ID, err)
	}
	hit := search.Hit{Movie: *m, Match: search.MatchBrowse}
	if !scored {
		return hit, nil
	}
	hit.Score = h.Score
	hit.Match = search.MatchPartial // the partial tier's movies lack a word whatever else they have
	if tierMatch != search.MatchPartial {
		hit.Match = x.classify(m, p)
	}
	if tierMatch == search.MatchTypo && hit.Match == search.MatchPartial {
		hit.Match = search.MatchTypo // two words written as one
	}
	hit.Highlights = x.highlights(m, p)
	return hit, nil
}

// matchKind is how well one query word matched a movie word; higher is better.
type matchKind int

const (
	noMatch matchKind = iota
	typoMatch
	prefixMatch
	exactMatch
)

// matchWord says how query word t matches the movie word w (both analyzed).
func matchWord(t term, w string) matchKind {
	switch {
	case w == t.text || slices.Contains(t.variants, w):
		return exactMatch
	case t.prefix && strings.HasPrefix(w, t.text):
		return prefixMatch
	case t.fuzz > 0 && levenshtein(t.text, w, t.fuzz) <= t.fuzz:
		return typoMatch
	}
	return noMatch
}

// movieWords are the analyzed words of the movie's text fields.
func (x *Index) movieWords(m *search.Movie) map[string]bool {
	words := map[string]bool{}
	add := func(s string) {
		for _, w := range x.analyze(s) {
			words[w] = true
		}
	}
	add(m.Title)
	add(m.Overview)
	add(m.Tagline)
	for _, list := range [][]string{m.Directors, m.Cast, m.Genres, m.Keywords, m.Tags} {
		for _, s := range list {
			add(s)
		}
	}
	return words
}

// classify says how the movie matched the plan: by its worst-matched word.
func (x *Index) classify(m *search.Movie, p *plan) search.Match {
	if len(p.terms) == 0 {
		if len(p.phrases) > 0 {
			return search.MatchPhrase
		}
		return search.MatchExact
	}
	words := x.movieWords(m)
	worst := exactMatch
	for _, t := range p.terms {
		best := noMatch
		if words[t.text] || slices.ContainsFunc(t.variants, func(v string) bool { return words[v] }) {
			best = exactMatch
		} else {
			for w := range words {
				best = max(best, matchWord(t, w))
				if best == prefixMatch {
					break
				}
			}
		}
		worst = min(worst, best)
	}
	switch worst {
	case noMatch:
		return search.MatchPartial
	case typoMatch:
		return search.MatchTypo
	case prefixMatch:
		return search.MatchPrefix
	}
	if len(p.phrases) > 0 {
		return search.MatchPhrase
	}
	return search.MatchExact
}

// highlights marks the query's words in the movie's title and overview (HTML-escaped, <mark>…</mark>). A
// field without a match is left out; a long overview is cut to a snippet around its first match.
func (x *Index) highlights(m *search.Movie, p *plan) map[string]string {
	out := map[string]string{}
	if s, ok := x.mark(m.Title, p, 0); ok {
		out["title"] = s
	}
	if s, ok := x.mark(m.Overview, p, snippetRunes); ok {
		out["overview"] = s
	}
	if s, ok := x.mark(m.Tagline, p, 0); ok {
		out["tagline"] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mark wraps the words of text that match the plan in <mark> and escapes the rest. With snippet > 0 a
// longer text is cut to about that many characters, starting a little before the first match.
func (x *Index) mark(text string, p *plan, snippet int) (string, bool) {
	if text == "" {
		return "", false
	}
	phraseWords := map[string]bool{}
	for _, ph := range p.phrases {
		for _, w := range ph {
			phraseWords[w] = true
		}
	}
	// The unicode tokenizer gives byte offsets into the original text; each token is then folded and
	// lower-cased like the index does, so "Amélie" is marked for "amelie".
	var spans [][2]int
	for _, t := range tokenize(text) {
		hit := false
		for _, w := range x.analyzeToken(t.Term) {
			if phraseWords[w] {
				hit = true
			}
			for _, qt := range p.terms {
				if matchWord(qt, w) != noMatch {
					hit = true
				}
			}
		}
		if hit {
			spans = append(spans, [2]int{t.Start, t.End})
		}
	}
	if len(spans) == 0 {
		return "", false
	}
	from, to := 0, len(text)
	if snippet > 0 && utf8.RuneCountInString(text) > snippet {
		from = backRunes(text, spans[0][0], snippet/4)
		to = forwardRunes(text, from, snippet)
	}
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	pos := from
	for _, sp := range spans {
		if sp[0] < from || sp[1] > to {
			continue
		}
		b.WriteString(html.EscapeString(text[pos:sp[0]]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[sp[0]:sp[1]]))
		b.WriteString("</mark>")
		pos = sp[1]
	}
	b.WriteString(html.EscapeString(text[pos:to]))
	if to < len(text) {
		b.WriteString("…")
	}
	return b.String(), true
}

// unicodeTokenizer is stateless: the same word splitter as the text analyzer, without its filters.
var unicodeTokenizer = unicode.NewUnicodeTokenizer()

// tokenize splits text into words with their byte offsets, without changing them.
func tokenize(text string) analysis.TokenStream {
	if isASCII(text) {
		return asciiWords([]byte(text))
	}
	return unicodeTokenizer.Tokenize([]byte(text))
}

// backRunes moves back from byte offset i by up to n characters, to the start of a word.
func backRunes(s string, i, n int) int {
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	for i > 0 && s[i-1] != ' ' {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return i
}

// forwardRunes moves forward from byte offset i by up to n characters, then to the end of a word.
func forwardRunes(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	for i < len(s) && s[i] != ' ' {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// levenshtein is the edit distance of a and b, or limit+1 once it is sure to exceed limit.
func levenshtein(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
