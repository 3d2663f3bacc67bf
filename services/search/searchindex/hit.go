package searchindex

import (
	"fmt"
	"html"
	"math"
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

// hit turns a Bleve hit into a search hit: the stored movie, its score, how it matched and its highlights;
// its weighted rating pulls towards mean (NaN: none).
func (x *Index) hit(h *blevesearch.DocumentMatch, j *hitJudge, tierMatch search.Match, scored bool, mean float64) (search.Hit, error) {
	src, _ := h.Fields[fieldSource].(string)
	m, err := decodeSource([]byte(src))
	if err != nil {
		return search.Hit{}, fmt.Errorf("hit %s: %w", h.ID, err)
	}
	hit := search.Hit{Movie: *m, Match: search.MatchBrowse}
	if wr, ok := x.priors.weightedRating(m.ID, mean, x.rank.WeightedRatingMinVotes); ok {
		wr = math.Round(wr*100) / 100
		hit.WeightedRating = &wr
	}
	if !scored {
		return hit, nil
	}
	hit.Score = h.Score
	hit.Match = search.MatchPartial // the partial tier's movies lack a word whatever else they have
	if tierMatch != search.MatchPartial {
		hit.Match = j.classify(m)
	}
	if tierMatch != search.MatchPartial && hit.Match == search.MatchPartial {
		hit.Match = tierMatch // two words written as one, or one as two
	}
	hit.Highlights = j.highlights(m)
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

// hitJudge says how a search's hits matched its plan and marks the query's words in them. The hits of a
// page share most of their words (and a movie repeats its own), so each distinct word is compared with
// the plan once a search; ASCII text is split into words without allocating.
type hitJudge struct {
	x      *Index
	p      *plan
	phrase map[string]bool // the words of the plan's phrases
	seen   map[string]int  // an analyzed word → the offset of its judgment in kinds
	// kinds holds a judgment per word seen: how it matches each of the plan's terms, then whether it is a
	// word of a phrase (exactMatch) or not (noMatch).
	kinds []matchKind
	best  []matchKind // classify's best match of each term so far
	lower []byte      // an ASCII word in lower case, to look it up without allocating
	spans [][2]int    // mark's matched words
}

func (x *Index) newHitJudge(p *plan) *hitJudge {
	// A page's hits hold a few hundred distinct words: the map is sized for them rather than regrown. The
	// judgments grow as they come, as a query may have a few hundred terms.
	j := &hitJudge{x: x, p: p, phrase: map[string]bool{}, seen: make(map[string]int, 512), best: make([]matchKind, len(p.terms))}
	for _, ph := range p.phrases {
		for _, w := range ph {
			j.phrase[w] = true
		}
	}
	return j
}

// judge is how the analyzed word w matches each term of the plan, and whether it is a word of a phrase.
func (j *hitJudge) judge(w string) (kinds []matchKind, phrase bool) {
	at, ok := j.seen[w]
	if !ok {
		at = len(j.kinds)
		for _, t := range j.p.terms {
			j.kinds = append(j.kinds, matchWord(t, w))
		}
		phrase := noMatch
		if j.phrase[w] {
			phrase = exactMatch
		}
		j.kinds = append(j.kinds, phrase)
		j.seen[w] = at
	}
	return j.judgment(at)
}

// judgment is the judgment kept at offset at of kinds.
func (j *hitJudge) judgment(at int) (kinds []matchKind, phrase bool) {
	n := len(j.p.terms)
	return j.kinds[at : at+n], j.kinds[at+n] == exactMatch
}

// judgeASCII is judge for a word of ASCII text as written: the index's word is its lower case.
func (j *hitJudge) judgeASCII(word string) (kinds []matchKind, phrase bool) {
	j.lower = j.lower[:0]
	for i := range len(word) {
		c := word[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		j.lower = append(j.lower, c)
	}
	if at, ok := j.seen[string(j.lower)]; ok { // no allocation for the lookup
		return j.judgment(at)
	}
	return j.judge(string(j.lower))
}

// eachWord calls visit with the judgment of each of the index's words of text, until visit returns false;
// it says whether visit ran to the end.
func (j *hitJudge) eachWord(text string, visit func(kinds []matchKind, phrase bool) bool) bool {
	return eachSpaced(text, func(_ int, chunk string) bool {
		if isASCII(chunk) {
			done := true
			eachASCIIWord(chunk, func(start, end int, _ bool) bool {
				done = visit(j.judgeASCII(chunk[start:end]))
				return done
			})
			return done
		}
		for _, w := range j.x.analyze(chunk) {
			if !visit(j.judge(w)) {
				return false
			}
		}
		return true
	})
}

// eachSpaced calls fn with each run of text between spaces and its byte offset, until fn returns false; it
// says whether fn ran to the end. A space always ends a word, for the tokenizer as for the ASCII folding
// before it, so the words of the runs are the words of the text; a hit's text is mostly ASCII, and an
// accent or a typographic apostrophe then sends only its own run through the analyzer.
func eachSpaced(text string, fn func(at int, chunk string) bool) bool {
	for at := 0; at < len(text); {
		end := strings.IndexByte(text[at:], ' ')
		if end < 0 {
			end = len(text)
		} else {
			end += at
		}
		if end > at && !fn(at, text[at:end]) {
			return false
		}
		at = end + 1
	}
	return true
}

// classify says how the movie matched the plan: by its worst-matched word.
func (j *hitJudge) classify(m *search.Movie) search.Match {
	p := j.p
	if len(p.terms) == 0 {
		if len(p.phrases) > 0 {
			return search.MatchPhrase
		}
		return search.MatchExact
	}
	clear(j.best)
	exact := 0 // terms matched exactly: once all are, no other word can change the answer
	visit := func(kinds []matchKind, _ bool) bool {
		for i, k := range kinds {
			if k > j.best[i] {
				if k == exactMatch {
					exact++
				}
				j.best[i] = k
			}
		}
		return exact < len(j.best)
	}
	if j.eachWord(m.Title, visit) && j.eachWord(m.Overview, visit) && j.eachWord(m.Tagline, visit) {
	lists:
		for _, list := range [][]string{m.Directors, m.Cast, m.Genres, m.Keywords, m.Tags} {
			for _, s := range list {
				if !j.eachWord(s, visit) {
					break lists
				}
			}
		}
	}
	switch slices.Min(j.best) {
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
func (j *hitJudge) highlights(m *search.Movie) map[string]string {
	out := map[string]string{}
	if s, ok := j.mark(m.Title, 0); ok {
		out["title"] = s
	}
	if s, ok := j.mark(m.Overview, snippetRunes); ok {
		out["overview"] = s
	}
	if s, ok := j.mark(m.Tagline, 0); ok {
		out["tagline"] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// matches says whether a word judged so matches the plan: a term in any way, or a phrase's word.
func matches(kinds []matchKind, phrase bool) bool {
	return phrase || slices.ContainsFunc(kinds, func(k matchKind) bool { return k != noMatch })
}

// mark wraps the words of text that match the plan in <mark> and escapes the rest. With snippet > 0 a
// longer text is cut to about that many characters, starting a little before the first match.
func (j *hitJudge) mark(text string, snippet int) (string, bool) {
	if text == "" {
		return "", false
	}
	// Words keep their byte offsets into the original text; each is then folded and lower-cased like the
	// index does, so "Amélie" is marked for "amelie".
	spans := j.spans[:0]
	eachSpaced(text, func(at int, chunk string) bool {
		if isASCII(chunk) {
			eachASCIIWord(chunk, func(start, end int, _ bool) bool {
				if matches(j.judgeASCII(chunk[start:end])) {
					spans = append(spans, [2]int{at + start, at + end})
				}
				return true
			})
			return true
		}
		for _, t := range unicodeTokenizer.Tokenize([]byte(chunk)) {
			for _, w := range j.x.analyzeToken(t.Term) {
				if matches(j.judge(w)) {
					spans = append(spans, [2]int{at + t.Start, at + t.End})
					break
				}
			}
		}
		return true
	})
	j.spans = spans
	if len(spans) == 0 {
		return "", false
	}
	from, to := 0, len(text)
	if snippet > 0 && utf8.RuneCountInString(text) > snippet {
		from = backRunes(text, spans[0][0], snippet/4)
		to = forwardRunes(text, from, snippet)
	}
	var b strings.Builder
	b.Grow(to - from + 32)
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

// levenshtein is the edit distance of a and b up to limit, and more than limit beyond it. A page's hits
// compare each of their new words with it: for words of up to maxStackWord letters it allocates nothing.
func levenshtein(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b) // on the stack, as they do not escape, up to 32 runes
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	var rows [2 * (maxStackWord + 1)]int
	prev, cur := rows[:maxStackWord+1], rows[maxStackWord+1:]
	if len(rb) > maxStackWord {
		prev, cur = make([]int, len(rb)+1), make([]int, len(rb)+1)
	}
	prev, cur = prev[:len(rb)+1], cur[:len(rb)+1]
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

// maxStackWord is the longest word levenshtein compares without allocating: its rows are sized for it, and
// the runtime converts a string of as many runes or fewer into a buffer on the stack.
const maxStackWord = 32
