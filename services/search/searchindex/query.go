package searchindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"marquee/services/search"
)

// toDoc turns a movie into the document the mapping indexes. Missing numbers are left out rather than
// indexed as zero, so they sort last instead of pretending to be unpopular.
func (x *Index) toDoc(m *search.Movie) (map[string]any, error) {
	src, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode movie %d: %w", m.ID, err)
	}
	d := map[string]any{
		fieldTitle:     m.Title,
		fieldTitleKey:  titleKeys(typedTitleKey(x.key(m.Title))),
		fieldTitleSort: m.Title,
		fieldDirectors: m.Directors,
		fieldDirector:  x.labelled(m.Directors),
		fieldCast:      m.Cast,
		fieldCastName:  x.labelled(m.Cast),
		fieldGenres:    m.Genres,
		fieldGenre:     m.Genres,
		fieldGenreKey:  x.keys(m.Genres),
		fieldKeywords:  m.Keywords,
		fieldTags:      m.Tags,
		fieldTagline:   m.Tagline,
		fieldOverview:  m.Overview,
		fieldSample:    sampleKey(m.ID),
		fieldSource:    string(src),
	}
	for _, c := range search.CodeFilters {
		if v := c.Value(m); v != "" {
			d[c.Name] = c.Fold(v)
		}
	}
	if m.Year != nil {
		d[fieldYear] = exactNumber(float64(*m.Year))
	}
	if m.RuntimeMinutes != nil {
		d[fieldRuntime] = exactNumber(float64(*m.RuntimeMinutes))
	}
	if m.Rating != nil {
		d[fieldRating] = exactNumber(*m.Rating)
	}
	if m.Votes != nil {
		d[fieldVotes] = exactNumber(float64(*m.Votes))
	}
	if m.Popularity != nil {
		d[fieldPopularity] = *m.Popularity
	}
	return d, nil
}

// typedTitleKey writes a title key as people type titles: without apostrophes ("ocean's" is "oceans"), and with
// its numbers one way, in digits, apart from the letters around them: "rocky ii", "rocky two" and "rocky 2"
// are one key, and so are "alien3" and "alien 3". The query's key is written the same way, so a title typed
// so still counts as the whole title. Every number counts here, one-letter Roman numerals included: both
// sides agree.
func typedTitleKey(key string) string {
	words := strings.Fields(key)
	changed := false
	for i, w := range words {
		if strings.ContainsAny(w, "'’") {
			w = strings.NewReplacer("'", "", "’", "").Replace(w)
			words[i], changed = w, true
		}
		if d, ok := numberDigits[w]; ok {
			words[i], changed = d, true
			continue
		}
		if split := splitDigits(w); split != w {
			words[i], changed = split, true
		}
	}
	if !changed {
		return key
	}
	return strings.Join(words, " ")
}

// splitDigits puts a space between letters and digits that touch: "alien3" is "alien 3".
func splitDigits(w string) string {
	var b strings.Builder
	prev := 0 // 1 letter, 2 digit
	for _, r := range w {
		kind := 1
		if r >= '0' && r <= '9' {
			kind = 2
		}
		if prev != 0 && kind != prev {
			b.WriteByte(' ')
		}
		prev = kind
		b.WriteRune(r)
	}
	return b.String()
}

// numberDigits maps every written form of the numbers 1 to 20 (English word, Roman numeral) to its digits.
var numberDigits = func() map[string]string {
	m := map[string]string{"one": "1", "i": "1"}
	for digits, forms := range numerals {
		if digits[0] >= '0' && digits[0] <= '9' {
			for _, f := range forms {
				m[f] = digits
			}
		}
	}
	m["v"], m["x"] = "5", "10"
	return m
}()

// titleKeys are the exact-title keys of a normalized title: itself, and without a leading article.
func titleKeys(key string) []string {
	keys := []string{key}
	for _, a := range []string{"the ", "a ", "an "} {
		if rest, ok := strings.CutPrefix(key, a); ok && rest != "" {
			keys = append(keys, rest)
		}
	}
	return keys
}

// analyze runs text through the index's text analyzer: its words lower-cased and ASCII-folded exactly as
// the indexed words are.
func (x *Index) analyze(text string) []string {
	var toks analysis.TokenStream
	if isASCII(text) {
		toks = tokenize(text) // ASCII folding changes nothing: the analyzer's tokens, but for lower case
	} else {
		toks = x.mapping.AnalyzerNamed(textAnalyzer).Analyze([]byte(text))
	}
	out := make([]string, 0, len(toks))
	for _, tok := range toks {
		out = append(out, lowerASCII(tok.Term))
	}
	return out
}

// analyzeToken is the index's words for one word of the unicode tokenizer: itself in lower case when it is
// ASCII (one word), else what the text analyzer makes of it. Highlighting analyzes each word of a hit's
// text alone, to keep its offsets; the analyzer's pipeline cost more than the rest of a hit.
func (x *Index) analyzeToken(tok []byte) []string {
	if isASCII(tok) {
		return []string{lowerASCII(tok)}
	}
	return x.analyze(string(tok))
}

func isASCII[T string | []byte](s T) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII is b as a string with A-Z lower-cased (the text analyzer's tokens are lower case already).
func lowerASCII(b []byte) string {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return strings.ToLower(string(b))
		}
	}
	return string(b)
}

// key is the normalized form of a whole value (a title, a name): its analyzed words joined by spaces.
func (x *Index) key(s string) string { return strings.Join(x.analyze(s), " ") }

func (x *Index) keys(vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if k := x.key(v); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// labelSep ends the key of a labelled term. A key is words joined by spaces, so it never holds one.
const labelSep = "\x1f"

// labelled is each value as one term: its key, labelSep, and the value as written. One field so serves the
// filters, which match the key (keyQuery), and the facets, which show the value (labelOf): a key field next
// to the facet's field held the same names twice, and the cast's two were a tenth of the indexing CPU.
func (x *Index) labelled(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = x.key(v) + labelSep + v
	}
	return out
}

// labelOf is the value as written of a labelled term.
func labelOf(term string) string {
	_, v, _ := strings.Cut(term, labelSep)
	return v
}

// keyQuery matches the movies with a value of the labelled field whose key is key: the terms that start
// with the key and labelSep, one per way the value is written. An empty key (a value with no words) matches
// nothing, as no term is empty.
func keyQuery(field, key string, boost float64) query.Query {
	if key == "" {
		return wordQuery(field, "", boost)
	}
	pq := query.NewPrefixQuery(key + labelSep)
	pq.SetField(field)
	pq.SetBoost(boost)
	return pq
}

// fuzziness is the edit distance a term of n letters tolerates: none up to 4, 1 from 5, 2 from 9.
func fuzziness(n int) int {
	switch {
	case n >= 9:
		return 2
	case n >= 5:
		return 1
	default:
		return 0
	}
}

// term is one analyzed query word.
type term struct {
	text     string
	variants []string // its other English number (robots → robot), or the same number written otherwise (2, ii, two): exact matches
	prefix   bool     // the last word, maybe still being typed
	fuzz     int
}

func newTerm(text string, prefix bool) term {
	variants := numberVariants(text)
	if n, ok := numerals[text]; ok {
		variants = n
	}
	return term{text: text, variants: variants, prefix: prefix, fuzz: fuzziness(utf8.RuneCountInString(text))}
}

// numerals are, for each way of writing a number from 2 to 20 (digits, a Roman numeral, an English word),
// the other ways. Titles number sequels all three ways (Rocky II, Toy Story 2, Ocean's Eleven) and people
// type any of them. One is left out (i and one are ordinary words); so are the Roman numerals of one
// letter as what is typed (v, x), and as what a word finds (ten is not every X); 5 and 10 do find them.
var numerals = func() map[string][]string {
	words := []string{"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
		"thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"}
	romans := []string{"ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv",
		"xvi", "xvii", "xviii", "xix", "xx"}
	m := map[string][]string{}
	for i := range words {
		forms := []string{strconv.Itoa(i + 2), romans[i], words[i]}
		for _, f := range forms {
			if len(f) == 1 && f[0] >= 'a' {
				continue
			}
			for j, other := range forms {
				// A one-letter Roman numeral stands for the number only beside digits: five is not every V.
				if other != f && (len(other) > 1 || j != 1 || f[0] <= '9') {
					m[f] = append(m[f], other)
				}
			}
		}
	}
	return m
}()

// numberVariants are the singular of an English plural, or the plurals of a singular, by the regular
// rules: a query for robots finds a robot, and a query for dog finds dogs. Short words and words with
// digits or non-ASCII letters have none.
func numberVariants(w string) []string {
	if len(w) < 3 {
		return nil
	}
	for _, r := range w {
		if r < 'a' || r > 'z' {
			return nil
		}
	}
	vowel := func(b byte) bool { return strings.IndexByte("aeiou", b) >= 0 }
	switch {
	case strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") || strings.HasSuffix(w, "is"):
		return []string{w + "es"}
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return []string{w[:len(w)-3] + "y"}
	case strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes") || strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "sses"):
		return []string{w[:len(w)-2]}
	case strings.HasSuffix(w, "s"):
		return []string{w[:len(w)-1]}
	case strings.HasSuffix(w, "y") && !vowel(w[len(w)-2]):
		return []string{w[:len(w)-1] + "ies"}
	case strings.HasSuffix(w, "ch") || strings.HasSuffix(w, "sh") || strings.HasSuffix(w, "x") || strings.HasSuffix(w, "z"):
		return []string{w + "es"}
	}
	return []string{w + "s"}
}

// plan is a query text analyzed for the index.
type plan struct {
	terms    []term
	phrases  [][]string // each at least one word
	excluded [][]string
	titleKey string      // the positive words, normalized like titleKeys
	joins    []join      // adjacent words that a movie may have as one (war games → wargames)
	exp      *expansions // the words' typo variants and completions; nil: Bleve's fuzzy and prefix queries
	exec     *executor   // the search's snapshot for ranked tiers and counts; nil: Bleve answers them
	// Each word's query, built once a search: the tiers, their counts, the scored queries and the facets
	// then share one object a word, and with it the executor's compiled node and its matches (see
	// execShard.compile).
	// Shared by the copies of the plan; nil: built anew each time.
	wordQueries map[wordQueryKey]query.Query
}

type wordQueryKey struct {
	text, variants string
	prefix         bool
	fuzz           int
	typos          bool
}

// join is two adjacent query words written as one.
type join struct {
	at   int // the first of the two terms
	text string
}

func (p *plan) empty() bool { return len(p.terms) == 0 && len(p.phrases) == 0 && len(p.excluded) == 0 }

// textField is a field the query words are looked for in, with its boost.
type textField struct {
	name   string
	boost  float64
	prefix bool // whether the last word is also matched as a prefix here (not in long prose)
}

func (x *Index) textFields() []textField {
	r := x.rank
	return []textField{
		{fieldTitle, r.Title, true},
		{fieldDirectors, r.Directors, true},
		{fieldCast, r.Cast, true},
		{fieldGenres, r.Genres, true},
		{fieldKeywords, r.Keywords, true},
		{fieldTags, r.Tags, true},
		{fieldTagline, r.Tagline, false},
		{fieldOverview, r.Overview, false},
	}
}

// newPlan analyzes a parsed query text.
func (x *Index) newPlan(t search.Text) plan {
	var p plan
	seen := map[string]int{}
	var positive []string
	for i, w := range t.Words {
		toks := x.analyze(w)
		positive = append(positive, toks...)
		for j, tok := range toks {
			last := t.PrefixLast && i == len(t.Words)-1 && j == len(toks)-1
			if k, ok := seen[tok]; ok {
				p.terms[k].prefix = p.terms[k].prefix || last
				continue
			}
			seen[tok] = len(p.terms)
			p.terms = append(p.terms, newTerm(tok, last))
		}
	}
	for _, ph := range t.Phrases {
		if toks := x.analyze(ph); len(toks) > 0 {
			p.phrases = append(p.phrases, toks)
			positive = append(positive, toks...)
		}
	}
	for _, ex := range t.Excluded {
		if toks := x.analyze(ex); len(toks) > 0 {
			p.excluded = append(p.excluded, toks)
		}
	}
	p.titleKey = strings.Join(positive, " ")
	for i := 0; i+1 < len(p.terms); i++ {
		p.joins = append(p.joins, join{at: i, text: p.terms[i].text + p.terms[i+1].text})
	}
	return p
}

// termQuery matches one query word in the text fields. Per field, the exact word, its typo variants (when
// typos is set) and, for the last word, its completions are one disjunction: Bleve scales a disjunction by
// the share of its clauses that match, so an exact match (which is also its own typo variant and prefix)
// outscores a prefix match, which outscores a typo. A search builds each once (plan.wordQueries).
func (x *Index) termQuery(p *plan, t term, typos bool) query.Query {
	k := wordQueryKey{t.text, strings.Join(t.variants, " "), t.prefix, t.fuzz, typos}
	if q, ok := p.wordQueries[k]; ok {
		return q
	}
	q := x.newTermQuery(p, t, typos)
	if p.wordQueries != nil {
		p.wordQueries[k] = q
	}
	return q
}

// newTermQuery builds the query termQuery returns.
func (x *Index) newTermQuery(p *plan, t term, typos bool) query.Query {
	var fields []query.Query
	for _, f := range x.textFields() {
		if f.boost == 0 {
			continue
		}
		var qs []query.Query
		var exact query.Query
		tq := query.NewTermQuery(t.text)
		tq.SetField(f.name)
		tq.SetBoost(f.boost)
		exact = tq
		if len(t.variants) > 0 {
			// Bleve scales a disjunction by the share of its clauses that match. A number written another
			// way is the same word (Hellboy II for "hellboy 2"), so each spelling is boosted by their count
			// and one alone scores as the word typed; a plural or a singular stays a lesser match.
			boost := f.boost
			if _, ok := numerals[t.text]; ok {
				boost *= float64(1 + len(t.variants))
				tq.SetBoost(boost)
			}
			alts := []query.Query{tq}
			for _, v := range t.variants {
				vq := query.NewTermQuery(v)
				vq.SetField(f.name)
				vq.SetBoost(boost)
				alts = append(alts, vq)
			}
			exact = query.NewDisjunctionQuery(alts)
		}
		qs = append(qs, exact)
		if typos && t.fuzz > 0 {
			qs = append(qs, p.exp.fuzzyQuery(f.name, t.text, t.fuzz, f.boost*x.rank.Typo))
		}
		if t.prefix && f.prefix {
			qs = append(qs, p.exp.prefixQuery(f.name, t.text, f.boost*x.rank.Prefix))
			if typos && t.fuzz > 0 && !p.exp.completes(f.name, t.text) && !p.exp.hasVariants(f.name, t.text, t.fuzz) {
				// Nothing starts with the word being typed, nor is near it: a typo in it, before the end
				// (godfate).
				if fq := p.exp.fuzzyPrefixQuery(f.name, t.text, t.fuzz, f.boost*x.rank.Prefix*x.rank.Typo); fq != nil {
					qs = append(qs, fq)
				}
			}
		}
		if len(qs) == 1 {
			fields = append(fields, exact)
		} else {
			fields = append(fields, query.NewDisjunctionQuery(qs))
		}
	}
	return query.NewDisjunctionQuery(fields)
}

// phraseQuery matches words in this order, next to each other, in any text field.
func (x *Index) phraseQuery(words []string) query.Query {
	var qs []query.Query
	for _, f := range x.textFields() {
		if f.boost == 0 {
			continue
		}
		var q query.Query
		if len(words) == 1 {
			tq := query.NewTermQuery(words[0])
			tq.SetField(f.name)
			tq.SetBoost(f.boost)
			q = tq
		} else {
			pq := query.NewPhraseQuery(words, f.name)
			pq.SetBoost(f.boost)
			q = pq
		}
		qs = append(qs, q)
	}
	return query.NewDisjunctionQuery(qs)
}

// The ways a plan's words may match. A tier is a set of movies; the tiers of a search are disjoint and
// ranked in order, whatever the scores.
type strictness int

const (
	allExact strictness = iota // every word, exactly (the last also as a prefix), or two adjacent ones as one word
	allTypos                   // every word, within its typo tolerance
	anyWord                    // some word, within its typo tolerance
)

// words matches the plan's plain words with the given strictness; nil if it has none.
func (x *Index) words(p *plan, s strictness) query.Query {
	if len(p.terms) == 0 {
		return nil
	}
	qs := make([]query.Query, len(p.terms))
	for i, t := range p.terms {
		qs[i] = x.termQuery(p, t, s != allExact)
		if parts, ok := p.exp.split(t.text); ok {
			// A word written together that titles have apart counts as those words side by side.
			qs[i] = query.NewDisjunctionQuery([]query.Query{qs[i], x.phraseQuery(parts)})
		}
	}
	if s == anyWord {
		return query.NewDisjunctionQuery(qs)
	}
	all := query.NewConjunctionQuery(qs)
	if len(p.joins) == 0 {
		return all
	}
	// Two adjacent words that a movie has as one count as those words (war games finds WarGames, alien 3
	// finds Alien³): a way of writing them, not a typo.
	alts := []query.Query{all}
	for _, j := range p.joins {
		if !p.exp.known(j.text) {
			// No movie has the words as one: nothing to look up. The clause stays, matching nothing, so
			// that the disjunction's coordination factor (and every score) is the same either way.
			alts = append(alts, query.NewMatchNoneQuery())
			continue
		}
		var js []query.Query
		for i := range p.terms {
			switch i {
			case j.at:
				js = append(js, x.termQuery(p, term{text: j.text}, false))
			case j.at + 1:
			default:
				js = append(js, qs[i])
			}
		}
		alts = append(alts, query.NewConjunctionQuery(js))
	}
	return query.NewDisjunctionQuery(alts)
}

// relevance is the scored part of a text query: the words (all or, relaxed, any) within their typo
// tolerance, the phrases, and the boosts for a whole-title match, a title phrase and a person's name;
// wrapped so that the popularity and rating priors multiply the score. Typo variants score even in the
// exact tier: a movie that also has a near form of a word elsewhere ranks higher, which the relevance
// judgments confirm. Only the movies of within are scored: it joins the words as a clause that narrows
// without scoring (see unscored), so the conjunction of the words and within leapfrogs. It holds no prior
// (see scoring).
func (x *Index) relevance(p *plan, anyWords bool, within query.Query) query.Query {
	var must []query.Query
	if len(p.terms) > 0 {
		s := allTypos
		if anyWords {
			s = anyWord
		}
		must = append(must, x.words(p, s))
	}
	for _, ph := range p.phrases {
		must = append(must, x.phraseQuery(ph))
	}
	var should []query.Query
	if p.titleKey != "" && x.rank.TitleExact > 0 {
		tq := query.NewTermQuery(typedTitleKey(p.titleKey))
		tq.SetField(fieldTitleKey)
		tq.SetBoost(x.rank.TitleExact)
		should = append(should, tq)
	}
	if p.titleKey != "" && x.rank.ValueExact > 0 {
		// The query is a whole genre or a person's whole name: the user asked for a category.
		should = append(should, wordQuery(fieldGenreKey, p.titleKey, x.rank.ValueExact),
			keyQuery(fieldCastName, p.titleKey, x.rank.ValueExact), keyQuery(fieldDirector, p.titleKey, x.rank.ValueExact))
	}
	if words := strings.Fields(p.titleKey); len(words) >= 2 {
		if x.rank.TitlePhrase > 0 {
			should = append(should, titlePhrase(words, x.rank.TitlePhrase))
			if start := x.titleStart(p, words); start != nil {
				should = append(should, start)
			}
		}
		if x.rank.PersonPhrase > 0 {
			for _, f := range []string{fieldCast, fieldDirectors} {
				pq := query.NewPhraseQuery(words, f)
				pq.SetBoost(x.rank.PersonPhrase)
				should = append(should, pq)
			}
		}
	}
	if len(must) == 0 {
		must = append(must, query.NewMatchAllQuery()) // only excluded words: every other movie matches
	}
	if within != nil {
		must = append(must, unscored{within})
	}
	return query.NewBooleanQuery(must, should, nil)
}

// titleStart matches the titles that begin with the words as typed so far, the last one half typed, each
// other word that no movie has as its nearest title word ("jurasic par" begins Jurassic Park, "the godf"
// The Godfather): the title phrase of a person still typing it, which the title phrase itself misses. Nil
// when the title phrase can match (every word is a title word, the last one whole), or when a word is in
// no title (an overview's word, a name) or near no title word.
func (x *Index) titleStart(p *plan, words []string) query.Query {
	if len(p.phrases) > 0 || len(p.terms) == 0 || !p.terms[len(p.terms)-1].prefix {
		return nil
	}
	last := len(words) - 1
	typed := slices.Clone(words)
	asTyped := p.exp.titleWord(words[last], 0) != ""
	for i, w := range words[:last] {
		if typed[i] = p.exp.titleWord(w, fuzziness(utf8.RuneCountInString(w))); typed[i] == "" {
			return nil
		}
		asTyped = asTyped && typed[i] == w
	}
	if asTyped {
		return nil
	}
	return p.exp.prefixQuery(fieldTitleKey, typedTitleKey(strings.Join(typed, " ")), x.rank.TitlePhrase)
}

// maxTitlePhrases bounds the spellings of a title phrase with numbers (three a number: 2, ii, two).
const maxTitlePhrases = 9

// titlePhrase matches the words as a phrase of the title, with each number in any of its spellings: "hellboy
// 2" is a phrase of "Hellboy II". The spellings are a disjunction, each boosted by their count, so that the
// one that matches scores as a phrase typed as the title writes it (see newTermQuery).
func titlePhrase(words []string, boost float64) query.Query {
	phrases := [][]string{nil}
	for _, w := range words {
		spellings := append([]string{w}, numerals[w]...)
		if len(phrases)*len(spellings) > maxTitlePhrases {
			spellings = spellings[:1]
		}
		var next [][]string
		for _, ph := range phrases {
			for _, sp := range spellings {
				next = append(next, append(slices.Clip(ph), sp))
			}
		}
		phrases = next
	}
	if len(phrases) == 1 {
		pq := query.NewPhraseQuery(words, fieldTitle)
		pq.SetBoost(boost)
		return pq
	}
	alts := make([]query.Query, len(phrases))
	for i, ph := range phrases {
		pq := query.NewPhraseQuery(ph, fieldTitle)
		pq.SetBoost(boost * float64(len(phrases)))
		alts[i] = pq
	}
	return query.NewDisjunctionQuery(alts)
}

// scoring is relevance with the priors: Bleve's custom score multiplies each match's text score by them.
func (x *Index) scoring(p *plan, anyWords bool, within query.Query) query.Query {
	return query.NewCustomScoreQueryWithScorer(x.relevance(p, anyWords, within), x.scorer(x.rank), nil, nil)
}

// membership is the unscored set of movies a tier holds: the words with the strictness, the phrases, and
// none of the excluded words.
func (x *Index) membership(p *plan, s strictness) query.Query {
	var must []query.Query
	if w := x.words(p, s); w != nil {
		must = append(must, w)
	}
	for _, ph := range p.phrases {
		must = append(must, x.phraseQuery(ph))
	}
	var mustNot []query.Query
	for _, ex := range p.excluded {
		mustNot = append(mustNot, x.phraseQuery(ex))
	}
	if len(mustNot) == 0 {
		if len(must) == 1 {
			return must[0]
		}
		return query.NewConjunctionQuery(must)
	}
	return query.NewBooleanQuery(must, nil, mustNot)
}

// filters are the query's filters by name (the name of the parameter group, which is also how the facets
// that ignore their own filter find it).
type filters map[string]query.Query

// Filter group names.
const (
	filterGenre      = "genre"
	filterDirector   = "director"
	filterCast       = "cast"
	filterYear       = "year"
	filterRating     = "rating"
	filterPopularity = "popularity"
	filterRuntime    = "runtime"
)

func (x *Index) filters(q *search.Query) filters {
	fs := filters{}
	// terms matches the values of field, each turned into its query by match: any of them, or all.
	terms := func(field string, vals []string, all bool, match func(field, v string) query.Query) query.Query {
		qs := make([]query.Query, 0, len(vals))
		for _, v := range vals {
			qs = append(qs, match(field, v))
		}
		if all {
			return query.NewConjunctionQuery(qs)
		}
		return query.NewDisjunctionQuery(qs)
	}
	exact := func(field, v string) query.Query { return wordQuery(field, v, 1) }
	byKey := func(field, v string) query.Query { return keyQuery(field, x.key(v), 1) }
	if len(q.Genres) > 0 {
		fs[filterGenre] = terms(fieldGenre, q.Genres, q.GenreMode == search.GenreAll, exact)
	}
	if len(q.Directors) > 0 {
		fs[filterDirector] = terms(fieldDirector, q.Directors, false, byKey)
	}
	if len(q.Cast) > 0 {
		fs[filterCast] = terms(fieldCastName, q.Cast, true, byKey)
	}
	for _, c := range search.CodeFilters { // the filter, the facet and the field are all c.Name
		if vals := q.Codes[c.Name]; len(vals) > 0 {
			folded := func(field, v string) query.Query { return wordQuery(field, c.Fold(v), 1) }
			fs[c.Name] = terms(c.Name, vals, false, folded)
		}
	}
	for name, r := range map[string]struct {
		field string
		r     search.Range
	}{
		filterYear: {fieldYear, q.Year}, filterRating: {fieldRating, q.Rating},
		filterPopularity: {fieldPopularity, q.Popularity}, filterRuntime: {fieldRuntime, q.Runtime},
	} {
		if r.r.IsZero() {
			continue
		}
		fs[name] = numberRange(r.field, r.r)
	}
	return fs
}

// numberRange matches the movies whose number in field is within r, bounds included. Popularity is a Bleve
// numeric field; the others hold one term per number (see exactNumber), whose order is the numbers'.
func numberRange(field string, r search.Range) query.Query {
	inclusive := true
	if field == fieldPopularity {
		nq := query.NewNumericRangeInclusiveQuery(r.Min, r.Max, &inclusive, &inclusive)
		nq.SetField(field)
		return nq
	}
	var lo, hi string // "" is an open end
	if r.Min != nil {
		lo = exactNumber(*r.Min)
	}
	if r.Max != nil {
		hi = exactNumber(*r.Max)
	}
	tq := query.NewTermRangeInclusiveQuery(lo, hi, &inclusive, &inclusive)
	tq.SetField(field)
	return tq
}

// exactNumber is a number as one indexed term: its shift-0 prefix code, which is the term Bleve's numeric
// sorts and facets read, and which orders as the numbers do.
func exactNumber(v float64) string {
	return string(numeric.MustNewPrefixCodedInt64(numeric.Float64ToInt64(v), 0))
}

// and joins queries into one (nil queries are skipped); nil if there are none.
func and(qs ...query.Query) query.Query {
	var out []query.Query
	for _, q := range qs {
		if q != nil {
			out = append(out, q)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return query.NewConjunctionQuery(out)
}

// without is the conjunction of the filters except the named one ("" keeps all).
func (fs filters) without(name string) query.Query {
	var qs []query.Query
	for _, k := range filterOrder {
		if f, ok := fs[k]; ok && k != name {
			qs = append(qs, f)
		}
	}
	return and(qs...)
}

// filterOrder is the order in which the filters are joined: the code filters' (search.CodeFilters) after
// the people's.
var filterOrder = func() []string {
	out := []string{filterGenre, filterDirector, filterCast}
	for _, c := range search.CodeFilters {
		out = append(out, c.Name)
	}
	return append(out, filterYear, filterRating, filterPopularity, filterRuntime)
}()

// filtered is q narrowed, without changing its scores, by filter (which may be nil).
func filtered(q, filter query.Query) query.Query {
	if filter == nil {
		return q
	}
	bq := query.NewBooleanQuery([]query.Query{q}, nil, nil)
	bq.AddFilter(filter)
	return bq
}

// unscored is a clause that narrows a conjunction and adds nothing to its scores: it matches q's movies
// without scoring them (score 0), and its weight of 0 leaves the query norm, hence the scores of the other
// clauses, exactly as they were without it. Unlike a Bleve filter, which walks every match of the scored
// query, scoring each, and then looks it up in the filter, a conjunction leapfrogs: its smallest clause
// leads and the others skip ahead to it. (A partial-match tier of a title with "the" in it scored every
// movie of the catalog to keep the few with its rarer words.)
type unscored struct{ q query.Query }

func (u unscored) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, options blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	options.Score, options.Explain, options.IncludeTermVectors = "none", false, false
	s, err := u.q.Searcher(ctx, r, m, options)
	if err != nil {
		return nil, err
	}
	return weightless{s}, nil
}

// weightless is a searcher that takes no part in the query norm.
type weightless struct{ blevesearch.Searcher }

func (weightless) Weight() float64      { return 0 }
func (weightless) SetQueryNorm(float64) {}

// tier is one ranked group of a text search.
type tier struct {
	member   query.Query // which movies (unscored)
	scored   bool        // ranked by relevance: scored by the words (all, or any when anyWords)
	anyWords bool
	match    search.Match
	mixed    bool // exact and typo matches together: each hit's match says which
}

// sortOrder is the Bleve sort of the query: its keys, then score, then id so every order is total. A sort by
// rating pulls towards mean (see weightedRatingSort).
func (x *Index) sortOrder(keys []search.SortKey, scored bool, mean float64) blevesearch.SortOrder {
	var so blevesearch.SortOrder
	hasScore := false
	for _, k := range keys {
		switch k.Field {
		case search.SortRelevance:
			so = append(so, &blevesearch.SortScore{Desc: !k.Desc}) // "relevance" is best first; "-relevance" reverses
			hasScore = true
		case search.SortRating:
			so = append(so, newWeightedRatingSort(x, k.Desc, mean))
		case search.SortTitle:
			so = append(so, &blevesearch.SortField{Field: fieldTitleSort, Desc: k.Desc, Type: blevesearch.SortFieldAsString, Missing: blevesearch.SortFieldMissingLast})
		default:
			field := map[string]string{search.SortPopularity: fieldPopularity, search.SortVotes: fieldVotes, search.SortYear: fieldYear, search.SortRuntime: fieldRuntime}[k.Field]
			so = append(so, &blevesearch.SortField{Field: field, Desc: k.Desc, Type: blevesearch.SortFieldAuto, Missing: blevesearch.SortFieldMissingLast})
		}
	}
	if scored && !hasScore {
		so = append(so, &blevesearch.SortScore{Desc: true})
	}
	return append(so, &blevesearch.SortDocID{})
}

// defaultBrowseSort is the order of a search without text or sort: most popular first, then by title.
var defaultBrowseSort = []search.SortKey{{Field: search.SortPopularity, Desc: true}, {Field: search.SortTitle}}

// search answers q, normalized by Search, uncached. With text, the matches come in tiers (see tiers),
// whatever their scores; within a tier the blended relevance decides. A sort replaces the tiers with its keys.
func (x *Index) search(ctx context.Context, q search.Query) (*search.Result, error) {
	q.Genres = x.opts.Genres.Canonical(q.Genres) // the catalog stores them so
	text, err := q.ParsedText()
	if err != nil {
		return nil, err
	}
	release, err := x.admit(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	p := x.newPlan(text)
	p.exp, p.wordQueries = x.newExpansions(), map[wordQueryKey]query.Query{}
	defer p.exp.close()
	p.exec = x.newExecutor(ctx)
	defer p.exec.close()
	if p.empty() && len(q.Sort) == 0 {
		q.Sort = defaultBrowseSort
	}
	cur, err := decodeCursor(q.Cursor, q.Sort)
	if err != nil {
		return nil, err
	}
	fs := x.filters(&q)
	all := fs.without("")
	version, err := x.Checkpoint()
	if err != nil {
		return nil, err
	}
	res := &search.Result{Page: q.Page, PerPage: q.PerPage, Facets: map[string]search.Facet{}, Index: search.IndexStatus{Version: version, Current: true}}

	// The matches: every movie (browse), or the movies of the text, in tiers unless a sort replaces them.
	pg := x.newPager(ctx, &q, &p, !p.empty(), all, cur, res)
	var member query.Query = query.NewMatchAllQuery()
	var pinned layout
	if cur != nil {
		pinned = cur.Layout
	}
	switch {
	case p.empty():
		if _, err := pg.add(tier{member: member, match: search.MatchBrowse}); err != nil {
			return nil, err
		}
	case len(q.Sort) > 0:
		size := func(t tier) (uint64, error) { return x.countWith(ctx, p.exec, and(t.member, all)) }
		var relaxed bool
		if member, relaxed, pg.layout, err = x.tiers(ctx, &p, size, pinned); err != nil {
			return nil, err
		}
		if _, err := pg.add(tier{scored: true, anyWords: relaxed, member: member}); err != nil {
			return nil, err
		}
	default:
		if member, _, pg.layout, err = x.tiers(ctx, &p, pg.add, pinned); err != nil {
			return nil, err
		}
	}
	if err := pg.finish(); err != nil {
		return nil, err
	}
	exactTotal := pg.exactTotal
	if err := x.facets(ctx, p.exec, &q, member, fs, res); err != nil {
		return nil, err
	}
	if len(p.terms) > 0 && len(q.Sort) == 0 && pg.exactUnknown {
		if exactTotal, err = x.countWith(ctx, p.exec, and(x.membership(&p, allExact), all)); err != nil {
			return nil, err
		}
	}
	if len(p.terms) > 0 && len(q.Sort) == 0 && exactTotal < uint64(x.rank.DidYouMeanBelow) {
		dym, err := x.didYouMean(ctx, text, &p, all, exactTotal)
		if err != nil {
			return nil, err
		}
		res.DidYouMean = dym
	}
	return res, nil
}

// commonShare is the share of the catalog above which a word is too common to make a movie a partial match
// on its own (the, of, a, …).
const commonShare = 0.1

// informative is the plan with only the words that are informative enough to match on their own, for the
// partial-match tier: "the godfater" relaxed matches movies with godfather, not every movie with "the". If
// every word is common, all are kept.
func (x *Index) informative(ctx context.Context, p plan) (plan, error) {
	docs, err := x.bi.DocCount()
	if err != nil {
		return p, fmt.Errorf("count documents: %w", err)
	}
	counts := make([]uint64, len(p.terms))
	least := uint64(math.MaxUint64)
	for i, t := range p.terms {
		if counts[i], err = x.countWith(ctx, p.exec, x.termQuery(&p, t, true)); err != nil {
			return p, err
		}
		least = min(least, counts[i])
	}
	// Common: in more than commonShare of the catalog, and more than twice as common as the rarest word (so
	// that a small catalog keeps its words).
	limit := max(commonShare*float64(docs), 2*float64(least))
	var keep []term
	for i, t := range p.terms {
		if float64(counts[i]) <= limit {
			keep = append(keep, t)
		}
	}
	if len(keep) > 0 && len(keep) < len(p.terms) {
		p.terms, p.joins = keep, nil
	}
	return p, nil
}

// tiers decides the tiers of a text search in rank order, each from the sizes of those before it, and hands
// each to add, which returns its number of movies: movies with every word exactly (the last word also as a
// prefix); then, only if fewer than Ranking.TypoBelow movies have every word exactly, movies with every word
// within its typo tolerance; then, only if fewer than Ranking.RelaxBelow movies have every word (within the
// tolerance), movies with some of the words. A fuzzy expansion of every word in every field is the costliest
// part of a search, and when the words match as typed, their typo variants are noise below them. It returns
// every movie the search matches, whether the words were relaxed to some of them, and the layout it chose.
//
// A later page passes the layout of the first (its cursor's, pinned): a write between the pages may move the
// counts the layout was decided from, and the cursor's tier must stay the tier it was made in.
func (x *Index) tiers(ctx context.Context, p *plan, add func(tier) (uint64, error), pinned layout) (member query.Query, relaxed bool, l layout, err error) {
	exact := x.membership(p, allExact)
	if len(p.terms) == 0 {
		if pinned != "" && pinned != "e" {
			return nil, false, "", invalidCursor()
		}
		_, err := add(tier{scored: true, member: exact, match: search.MatchExact})
		return exact, false, "e", err // phrases only: no typos, nothing to relax
	}
	if pinned != "" && (!pinned.valid() || (pinned.relaxed() && len(p.terms) < 2)) {
		return nil, false, "", invalidCursor()
	}
	// Movies with every word as typed come first; below TypoBelow of them, the typo matches follow. But one or
	// two such movies (below DidYouMeanBelow) do not outrank the typo matches: the typed word is likely the
	// misspelling (intersteller in one overview, Interstellar in a title), so both are one tier, ranked by
	// their scores, in which a typo weighs less.
	first := pinned.first()
	var n uint64
	if pinned == "" {
		if n, err = x.countWith(ctx, p.exec, exact); err != nil {
			return nil, false, "", err
		}
		switch {
		case n == 0:
			first = tierTypo
		case n < uint64(x.rank.DidYouMeanBelow):
			first = tierMixed
		default:
			first = tierExact
		}
	}
	l = layout(first)
	typo := exact
	switch first {
	case tierTypo:
		typo = x.membership(p, allTypos)
		// pinned, it may hold exact matches by now: the exact ones are counted apart, as for a mixed tier
		if n, err = add(tier{scored: true, member: typo, match: search.MatchTypo, mixed: pinned != ""}); err != nil {
			return nil, false, "", err
		}
	case tierMixed:
		typo = x.membership(p, allTypos)
		if n, err = add(tier{scored: true, member: typo, match: search.MatchExact, mixed: true}); err != nil {
			return nil, false, "", err
		}
	default:
		if n, err = add(tier{scored: true, member: exact, match: search.MatchExact}); err != nil {
			return nil, false, "", err
		}
		// n counts the filters' movies: add can say, the count above cannot
		if pinned.has(tierTypo) || (pinned == "" && n < uint64(x.rank.TypoBelow)) {
			typo = x.membership(p, allTypos)
			k, err := add(tier{scored: true, member: except(typo, exact), match: search.MatchTypo})
			if err != nil {
				return nil, false, "", err
			}
			n += k
			l += tierTypo
		}
	}
	if pinned != "" && !pinned.relaxed() || pinned == "" && (len(p.terms) < 2 || n >= uint64(x.rank.RelaxBelow)) {
		return typo, false, l, nil // one word is never relaxed
	}
	rp, err := x.informative(ctx, *p)
	if err != nil {
		return nil, false, "", err
	}
	member = x.membership(&rp, anyWord)
	if _, err := add(tier{scored: true, anyWords: true, member: except(member, typo), match: search.MatchPartial}); err != nil {
		return nil, false, "", err
	}
	return member, true, l + tierPartial, nil
}

// layout is the tiers of a text search, one letter each in rank order (see tiers): exact, then typo, then
// partial ("etp"); or mixed exact and typo matches ("m"), or typo matches only ("t"), then partial.
type layout string

const (
	tierExact   = "e"
	tierMixed   = "m"
	tierTypo    = "t"
	tierPartial = "p"
)

func (l layout) valid() bool {
	switch l {
	case "e", "et", "ep", "etp", "m", "mp", "t", "tp":
		return true
	}
	return false
}

func (l layout) first() string {
	if l == "" {
		return ""
	}
	return string(l[:1])
}

func (l layout) has(tier string) bool { return strings.Contains(string(l), tier) }
func (l layout) relaxed() bool        { return l.has(tierPartial) }

// except is the movies of q that are not in not.
func except(q, not query.Query) query.Query {
	return query.NewBooleanQuery([]query.Query{q}, nil, []query.Query{not})
}

// countWith counts the movies matching q with the search's executor, or with Bleve where it has none.
func (x *Index) countWith(ctx context.Context, e *executor, q query.Query) (uint64, error) {
	n, err := e.count(q)
	if errors.Is(err, errUnsupported) {
		return x.count(ctx, q)
	}
	return n, err
}

// count is the number of movies matching q, unscored.
func (x *Index) count(ctx context.Context, q query.Query) (uint64, error) {
	req := bleve.NewSearchRequestOptions(q, 0, 0, false)
	req.Score = "none"
	sr, err := x.query(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return sr.Total, nil
}
