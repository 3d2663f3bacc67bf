package searchindex

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"marquee/services/search"
)

// tier is one ranked group of a text search.
type tier struct {
	member   query.Query // which movies (unscored)
	scored   bool        // ranked by relevance: scored by the words (all, or any when anyWords)
	anyWords bool
	match    search.Match
	mixed    bool // exact and typo matches together: each hit's match says which
	topic    bool // the movies of the topic the query names: the prior weighs Ranking.TopicPopularity times
}

// commonShare is the share of the catalog above which a word is too common to make a movie a partial match
// on its own (the, of, a, …).
const commonShare = 0.1

// informative is the plan with only the words that are informative enough to match on their own, for the
// partial-match tier: "the godfater" relaxed matches movies with godfather, not every movie with "the". If
// every word is common, all are kept.
func (x *Index) informative(ctx context.Context, p plan) (plan, error) {
	docs, err := x.catalogDocs(ctx, p.exec)
	if err != nil {
		return p, fmt.Errorf("count documents: %w", err)
	}
	counts := make([]uint64, len(p.terms))
	qs := make([]PeerQuestion, len(p.terms))
	for i, t := range p.terms {
		qs[i] = countQuestion(x.termQuery(&p, t, true))
	}
	if err := x.prefetch(ctx, qs...); err != nil {
		return p, err
	}
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
// each to add, which returns its number of movies: with topics (a search ranked by relevance), the movies of
// the topic the words name, if they name one (see topic); movies with every word exactly (the last word also
// as a prefix); then, only if fewer than Ranking.TypoBelow movies have every word exactly, movies with every word
// within its typo tolerance; then, only if fewer than Ranking.RelaxBelow movies have every word (within the
// tolerance), movies with some of the words. A fuzzy expansion of every word in every field is the costliest
// part of a search, and when the words match as typed, their typo variants are noise below them. It returns
// every movie the search matches, whether the words were relaxed to some of them, and the layout it chose.
//
// A later page passes the layout of the first (its cursor's, pinned): a write between the pages may move the
// counts the layout was decided from, and the cursor's tier must stay the tier it was made in.
//
// expect, if not nil, is told of a tier that will follow before the tiers above it are added (a shard asks
// its peers for its size with theirs).
func (x *Index) tiers(ctx context.Context, p *plan, add func(tier) (uint64, error), expect func(tier), pinned layout, topics bool) (member query.Query, relaxed bool, l layout, err error) {
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
	topical, pinned := pinned.topical()
	if topical && !topics {
		return nil, false, "", invalidCursor()
	}
	// Movies with every word as typed come first; below TypoBelow of them, the typo matches follow. But one or
	// two such movies (below DidYouMeanBelow) do not outrank the typo matches: the typed word is likely the
	// misspelling (intersteller in one overview, Interstellar in a title), so both are one tier, ranked by
	// their scores, in which a typo weighs less.
	first := pinned.first()
	var n uint64
	if pinned == "" {
		// The word being typed with a typo in it, in the fields it is neither a prefix of nor near a word of,
		// goes with the count: every tier scores it.
		if last := p.terms[len(p.terms)-1]; last.prefix {
			if err := x.alsoAsk(ctx, p.exp.fuzzyPrefixQuestions(x.textFields(), last.text, last.fuzz)...); err != nil {
				return nil, false, "", err
			}
		}
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
	var typoAhead query.Query // the typo matches, told of ahead
	if pinned == "" && first == tierExact && n < uint64(x.rank.TypoBelow) && expect != nil {
		// The typo matches follow, whatever the filters leave of the exact ones (n is without them); only
		// likely, not sure, on a shard whose peers may have indexed more since.
		typoAhead = x.membership(p, allTypos)
		expect(tier{member: except(typoAhead, exact)})
	}
	typo := exact
	// A topic's movies come first, then the other exact matches (see Ranking.TopicMin). A search with
	// few exact matches names no topic: those are the typed word's misspellings.
	exactRest, inTopic := exact, uint64(0)
	if topics && first == tierExact && (pinned == "" || topical) {
		topic, err := x.topic(ctx, p, pinned != "", n)
		if err != nil {
			return nil, false, "", err
		}
		if topic == nil && topical {
			return nil, false, "", invalidCursor() // its tiers are not this search's
		}
		if topic != nil {
			topic = and(topic, exact) // the excluded words too
			if inTopic, err = add(tier{scored: true, member: topic, match: search.MatchExact, topic: true}); err != nil {
				return nil, false, "", err
			}
			exactRest = except(exact, topic)
			l = tierTopic + l
		}
	}
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
		if n, err = add(tier{scored: true, member: exactRest, match: search.MatchExact}); err != nil {
			return nil, false, "", err
		}
		n += inTopic
		// n counts the filters' movies: add can say, the count above cannot
		if pinned.has(tierTypo) || (pinned == "" && n < uint64(x.rank.TypoBelow)) {
			if typo = typoAhead; typo == nil {
				typo = x.membership(p, allTypos)
			}
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
// partial ("etp"); or mixed exact and typo matches ("m"), or typo matches only ("t"), then partial. A
// topic's movies may come before the exact matches ("cetp").
type layout string

const (
	tierTopic   = "c"
	tierExact   = "e"
	tierMixed   = "m"
	tierTypo    = "t"
	tierPartial = "p"
)

func (l layout) valid() bool {
	switch l {
	case "e", "et", "ep", "etp", "m", "mp", "t", "tp", "ce", "cet", "cep", "cetp":
		return true
	}
	return false
}

// topical says whether l begins with a topic's tier, and returns the tiers after it.
func (l layout) topical() (bool, layout) {
	rest, ok := strings.CutPrefix(string(l), tierTopic)
	return ok, layout(rest)
}

func (l layout) first() string {
	if l == "" {
		return ""
	}
	return string(l[:1])
}

func (l layout) has(tier string) bool { return strings.Contains(string(l), tier) }

func (l layout) relaxed() bool { return l.has(tierPartial) }

// topic is the query of the movies of the topic the plan's words name, or nil if they name none (see
// Ranking.TopicMin); exact is how many movies have every word. A later page (pinned) does not count again:
// its first page found the topic.
func (x *Index) topic(ctx context.Context, p *plan, pinned bool, exact uint64) (query.Query, error) {
	tq := inOrder(p, topicFields)
	if tq == nil {
		return nil, nil
	}
	// A movie whose whole title is the query is of the topic too, whatever its tags: a title is never
	// pushed below the topic it names.
	title := query.NewTermQuery(typedTitleKey(p.titleKey))
	title.SetField(fieldTitleKey)
	topic := query.NewDisjunctionQuery([]query.Query{tq, title})
	if pinned {
		return topic, nil
	}
	if x.rank.TopicMin <= 0 {
		return nil, nil
	}
	// A word too common to match on its own (see informative) is in tags without being one: "a" is in
	// "based on a book".
	if len(p.terms) == 1 {
		docs, err := x.catalogDocs(ctx, p.exec)
		if err != nil || float64(exact) > commonShare*float64(docs) {
			return nil, err
		}
	}
	// Words that name people at least as often are a person, whom tags name too ("will smith", "emma" of
	// Emma Watson): counted only of a topic, but asked of the peers with it.
	person := inOrder(p, []string{fieldCast, fieldDirectors})
	if err := x.prefetch(ctx, countQuestion(tq), countQuestion(person)); err != nil {
		return nil, err
	}
	n, err := x.countWith(ctx, p.exec, tq)
	if err != nil || n < uint64(x.rank.TopicMin) {
		return nil, err
	}
	people, err := x.countWith(ctx, p.exec, person)
	if err != nil || people >= n {
		return nil, err
	}
	return topic, nil
}

// except is the movies of q that are not in not.
func except(q, not query.Query) query.Query {
	return query.NewBooleanQuery([]query.Query{q}, nil, []query.Query{not})
}

// countWith counts the movies of the whole catalog matching q: x's (see countHere), and its peers'. The
// search decides its tiers, its facets' sample and its did-you-mean from such counts.
func (x *Index) countWith(ctx context.Context, e *executor, q query.Query) (uint64, error) {
	if a, ok := x.transcribed(ctx, countQuestion(q)); ok {
		return a.N, nil
	}
	n, err := x.countHere(ctx, e, q)
	if err != nil {
		return 0, err
	}
	a, _, err := x.ask(ctx, countQuestion(q), func() PeerAnswer { return PeerAnswer{N: n} })
	return n + a.N, err
}

func countQuestion(q query.Query) PeerQuestion { return PeerQuestion{Op: AskCount, Query: q} }

// countHere counts x's own movies matching q with the search's executor, or with Bleve where it has none.
func (x *Index) countHere(ctx context.Context, e *executor, q query.Query) (uint64, error) {
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
