package searchindex

import (
	"errors"
	"html"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"marquee/pkg/ingest"
	"marquee/pkg/testenv"
	"marquee/services/search"
)

// TestHitJudgeAsBefore: the hits' match kinds and highlights, judged once a word a search and split
// without allocating, are exactly what the analysis of every hit's whole text gave (the code before,
// kept below as the reference): the shared catalog's first movies (many of them non-ASCII), against queries of
// each kind (exact words, typos, prefixes, phrases, number variants, non-ASCII words), with one judge
// serving many movies as a search's does.
func TestHitJudgeAsBefore(t *testing.T) {
	m, err := newMapping()
	if err != nil {
		t.Fatal(err)
	}
	x := &Index{mapping: m}
	var seed []search.Movie // the shared catalog's first movies: overviews, taglines, casts in many languages
	enough := errors.New("enough")
	err = ingest.ReadFile(testenv.SharedData(t, "movies.jsonl.gz"), func(r ingest.Record) error {
		if len(seed) == 1500 {
			return enough
		}
		if m := r.Movie; r.Err == nil {
			seed = append(seed, search.Movie{Title: m.Title, Overview: m.Overview, Tagline: m.Tagline, Directors: m.Directors,
				Cast: m.Cast, Genres: m.Genres, Keywords: m.Keywords, Tags: m.Tags})
		}
		return nil
	})
	if err != nil && !errors.Is(err, enough) {
		t.Fatal(err)
	}
	seed = append(seed, search.Movie{Title: "Amélie", Overview: "Une fille à Montmartre. AMÉLIE’s café, naïve and Ærøskøbing.",
		Tagline: "Ça va? 1,000.50 R2-D2", Cast: []string{"Audrey Tautou", "Mathieu Kassovitz"}, Directors: []string{"Jean-Pierre Jeunet"},
		Genres: []string{"Comedy"}, Keywords: []string{"paris"}, Tags: []string{"whimsical"}})
	// Queries: words drawn from the movies, misspelt, cut short, quoted, plural or singular, and fixed ones.
	r := rand.New(rand.NewPCG(3, 5))
	queries := []string{"amelie", "amélie cafe", "montmartre fille", `"une fille"`, "godfather", "godfater part", "the dark kni",
		"robots", "dog", "ærøskøbing", "r2", "1,000.50", "jean pierre", "tautou", "drama crime", "zzzz", "a", "wars star"}
	for range 500 {
		mv := seed[r.IntN(len(seed))]
		ws := strings.Fields(mv.Title + " " + mv.Overview + " " + strings.Join(mv.Cast, " "))
		if len(ws) == 0 {
			continue
		}
		w := strings.Trim(ws[r.IntN(len(ws))], `.,;:!?"()`)
		rs := []rune(w)
		switch r.IntN(5) {
		case 1: // a typo past the first letter
			if len(rs) > 4 {
				rs[1+r.IntN(len(rs)-1)] = 'q'
			}
		case 2: // cut short, as typed
			if len(rs) > 3 {
				rs = rs[:3]
			}
		case 3: // two words, the second quoted with the first
			w2 := strings.Trim(ws[r.IntN(len(ws))], `.,;:!?"()`)
			queries = append(queries, `"`+w+" "+w2+`"`)
		}
		queries = append(queries, string(rs)+" "+strings.Trim(ws[r.IntN(len(ws))], `.,;:!?"()`))
	}
	checked, kinds := 0, map[search.Match]int{}
	for _, qs := range queries {
		text, err := search.ParseText(qs)
		if err != nil || text.IsZero() {
			continue
		}
		p := x.newPlan(text)
		j := x.newHitJudge(&p)
		for i := range 30 { // one judge for many hits, as in a search
			mv := seed[(i*7+len(qs))%len(seed)]
			if i == 0 {
				mv = seed[len(seed)-1]
			}
			want, got := x.classifyReference(&mv, &p), j.classify(&mv)
			if got != want {
				t.Errorf("query %q, movie %q: match %q, before %q", qs, mv.Title, got, want)
			}
			kinds[got]++
			wantH, gotH := x.highlightsReference(&mv, &p), j.highlights(&mv)
			if len(wantH)+len(gotH) > 0 && !mapsEqual(wantH, gotH) {
				t.Errorf("query %q, movie %q: highlights %q, before %q", qs, mv.Title, gotH, wantH)
			}
			checked++
		}
	}
	if checked < 10_000 || kinds[search.MatchExact] == 0 || kinds[search.MatchTypo] == 0 || kinds[search.MatchPrefix] == 0 || kinds[search.MatchPartial] == 0 {
		t.Errorf("%d hits checked, match kinds %v: the queries do not cover every kind", checked, kinds)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The code before the hit judge: every hit's text analyzed whole, and each word compared with the plan.

// movieWords are the analyzed words of the movie's text fields.
func (x *Index) movieWordsReference(m *search.Movie) map[string]bool {
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
func (x *Index) classifyReference(m *search.Movie, p *plan) search.Match {
	if len(p.terms) == 0 {
		if len(p.phrases) > 0 {
			return search.MatchPhrase
		}
		return search.MatchExact
	}
	words := x.movieWordsReference(m)
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
func (x *Index) highlightsReference(m *search.Movie, p *plan) map[string]string {
	out := map[string]string{}
	if s, ok := x.markReference(m.Title, p, 0); ok {
		out["title"] = s
	}
	if s, ok := x.markReference(m.Overview, p, snippetRunes); ok {
		out["overview"] = s
	}
	if s, ok := x.markReference(m.Tagline, p, 0); ok {
		out["tagline"] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mark wraps the words of text that match the plan in <mark> and escapes the rest. With snippet > 0 a
// longer text is cut to about that many characters, starting a little before the first match.
func (x *Index) markReference(text string, p *plan, snippet int) (string, bool) {
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

// TestLevenshtein: the edit distance of two words within limit, and more than limit beyond it, as the full
// table of a reference gives it, for ASCII and non-ASCII words, short and longer than the rows kept on the
// stack; and words of up to maxStackWord letters are compared without allocating.
func TestLevenshtein(t *testing.T) {
	full := func(a, b []rune) int { // the whole table, no limit
		d := make([][]int, len(a)+1)
		for i := range d {
			d[i] = make([]int, len(b)+1)
			d[i][0] = i
		}
		for j := range d[0] {
			d[0][j] = j
		}
		for i := 1; i <= len(a); i++ {
			for j := 1; j <= len(b); j++ {
				cost := 1
				if a[i-1] == b[j-1] {
					cost = 0
				}
				d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			}
		}
		return d[len(a)][len(b)]
	}
	rng := rand.New(rand.NewPCG(3, 5))
	letters := []rune("abcdeéøß")
	word := func(n int) string {
		r := make([]rune, n)
		for i := range r {
			r[i] = letters[rng.IntN(len(letters))]
		}
		return string(r)
	}
	for range 20_000 {
		a := word(rng.IntN(maxStackWord + 8))
		b := []rune(a)
		for range rng.IntN(4) { // a few edits away
			switch i := rng.IntN(len(b) + 1); rng.IntN(3) {
			case 0:
				b = slices.Insert(b, i, letters[rng.IntN(len(letters))])
			case 1:
				if i < len(b) {
					b = slices.Delete(b, i, i+1)
				}
			default:
				if i < len(b) {
					b[i] = letters[rng.IntN(len(letters))]
				}
			}
		}
		if rng.IntN(5) == 0 {
			b = []rune(word(rng.IntN(maxStackWord + 8)))
		}
		want := full([]rune(a), b)
		for limit := range 4 {
			got := levenshtein(a, string(b), limit)
			if want <= limit && got != want || want > limit && got <= limit {
				t.Fatalf("levenshtein(%q, %q, %d) = %d, distance %d", a, string(b), limit, got, want)
			}
		}
	}
	long := strings.Repeat("é", maxStackWord-1)
	for _, pair := range [][2]string{{"midnight", "midnihgt"}, {long + "a", long + "b"}} {
		if n := testing.AllocsPerRun(100, func() { levenshtein(pair[0], pair[1], 2) }); n != 0 {
			t.Errorf("levenshtein(%q, %q) allocated %v times, want 0", pair[0], pair[1], n)
		}
	}
}
