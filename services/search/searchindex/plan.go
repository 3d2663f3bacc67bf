package searchindex

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

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
	if typos && t.prefix {
		p.exp.prefetchFuzzyPrefixes(x.textFields(), t.text, t.fuzz)
	}
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
			if typos && p.exp.wantsFuzzyPrefix(f.name, t.text, t.fuzz) {
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
		qs = append(qs, sequence(words, f.name, f.boost))
	}
	return query.NewDisjunctionQuery(qs)
}

// topicFields are where a topic is named: the values that say what a movie is about.
var topicFields = []string{fieldGenres, fieldKeywords, fieldTags}

// maxTopicWords is the most words a topic has ("new york city"); a longer query is a title or a sentence.
const maxTopicWords = 4

// inOrder matches the movies that have the plan's words, in order, in one of fields; nil if the plan cannot
// name a topic (a quoted phrase, too many words, or none).
func inOrder(p *plan, fields []string) query.Query {
	if len(p.phrases) > 0 || len(p.terms) == 0 || len(p.terms) > maxTopicWords {
		return nil
	}
	words := make([]string, len(p.terms))
	for i, t := range p.terms {
		words[i] = t.text
	}
	qs := make([]query.Query, len(fields))
	for i, f := range fields {
		qs[i] = sequence(words, f, 1)
	}
	return query.NewDisjunctionQuery(qs)
}

// sequence matches words next to each other, in this order, in field: one word is a term query.
func sequence(words []string, field string, boost float64) query.Query {
	if len(words) == 1 {
		tq := query.NewTermQuery(words[0])
		tq.SetField(field)
		tq.SetBoost(boost)
		return tq
	}
	pq := query.NewPhraseQuery(words, field)
	pq.SetBoost(boost)
	return pq
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

// category matches the movies of a genre or person whose whole name the query is: the user asked for a
// category. None if Ranking.ValueExact is 0.
func (x *Index) category(p *plan) []query.Query {
	if p.titleKey == "" || x.rank.ValueExact <= 0 {
		return nil
	}
	return []query.Query{wordQuery(fieldGenreKey, p.titleKey, x.rank.ValueExact),
		keyQuery(fieldCastName, p.titleKey, x.rank.ValueExact), keyQuery(fieldDirector, p.titleKey, x.rank.ValueExact)}
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
	should = append(should, x.category(p)...)
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

// scoring is a relevance query with the priors: Bleve's custom score multiplies each match's text score by
// them, raised to Ranking.TopicPopularity in a topic's tier.
func (x *Index) scoring(relevance query.Query, topic bool) query.Query {
	return query.NewCustomScoreQueryWithScorer(relevance, x.scorer(x.rank, topic), nil, nil)
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
