package searchapi

import (
	"fmt"

	"github.com/blevesearch/bleve/v2/search/query"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"marquee/pkg/apperr"
	"marquee/services/search/searchindex"
)

// peerQuery is, in Bleve's query JSON, one of the queries a shard's search builds and asks its peers to
// count; any other key, or another kind of query, is refused. It is decoded in one pass into typed fields:
// Bleve's own parser decodes every level of a query again into maps, and was a third of a shard service's
// CPU (its peers' questions, each a tier's query of many expansions).
type peerQuery struct {
	Term         *string        `json:"term"`
	Prefix       *string        `json:"prefix"`
	Terms        []string       `json:"terms"` // a phrase
	Fuzziness    int            `json:"fuzziness"`
	Field        string         `json:"field"`
	Boost        *float64       `json:"boost"`
	Conjuncts    []peerQuery    `json:"conjuncts"`
	Disjuncts    []peerQuery    `json:"disjuncts"`
	Min          jsontext.Value `json:"min"` // a disjunction's count, or a range's lower bound
	Max          jsontext.Value `json:"max"`
	InclusiveMin *bool          `json:"inclusive_min"`
	InclusiveMax *bool          `json:"inclusive_max"`
	Must         *peerQuery     `json:"must"`
	Should       *peerQuery     `json:"should"`
	MustNot      *peerQuery     `json:"must_not"`
	Filter       *peerQuery     `json:"filter"`
	MatchAll     *struct{}      `json:"match_all"`
	MatchNone    *struct{}      `json:"match_none"`
}

// parsePeerQuestion reads a peer's question and its query (see peerQuery) in one pass; an error is
// apperr.Invalid.
func parsePeerQuestion(body []byte) (searchindex.PeerQuestion, error) {
	var in struct {
		searchindex.PeerQuestion `json:",inline"`
		Query                    *peerQuery `json:"query"`
	}
	if err := jsonv2.Unmarshal(body, &in, jsonv2.RejectUnknownMembers(true)); err != nil {
		return in.PeerQuestion, apperr.Errorf(apperr.Invalid, "The question is not one a shard asks: %v.", err)
	}
	q := in.PeerQuestion
	if in.Query != nil {
		var err error
		if q.Query, err = in.Query.query(); err != nil {
			return q, apperr.Errorf(apperr.Invalid, "The question's query is not one a shard asks: %v.", err)
		}
	}
	return q, nil
}

type boosted interface {
	query.Query
	SetBoost(float64)
}

func (p *peerQuery) query() (query.Query, error) {
	q, err := p.kind()
	if err != nil {
		return nil, err
	}
	if b, ok := q.(boosted); ok && p.Boost != nil {
		b.SetBoost(*p.Boost)
	}
	return q, nil
}

// kind builds the one query p is.
func (p *peerQuery) kind() (query.Query, error) {
	fielded := func(q interface {
		query.Query
		SetField(string)
	}) query.Query {
		q.SetField(p.Field)
		return q
	}
	switch {
	case p.Fuzziness != 0:
		return nil, fmt.Errorf("a fuzzy query")
	case p.MatchAll != nil:
		return query.NewMatchAllQuery(), nil
	case p.MatchNone != nil:
		return query.NewMatchNoneQuery(), nil
	case p.Term != nil:
		return fielded(query.NewTermQuery(*p.Term)), nil
	case p.Prefix != nil:
		if *p.Prefix == "" {
			return nil, fmt.Errorf("a prefix is empty")
		}
		return fielded(query.NewPrefixQuery(*p.Prefix)), nil
	case p.Terms != nil:
		return fielded(query.NewPhraseQuery(p.Terms, p.Field)), nil
	case p.Conjuncts != nil:
		qs, err := children(p.Conjuncts)
		return query.NewConjunctionQuery(qs), err
	case p.Disjuncts != nil:
		qs, err := children(p.Disjuncts)
		if err != nil {
			return nil, err
		}
		dq := query.NewDisjunctionQuery(qs)
		if len(p.Min) > 0 {
			var min float64
			if err := jsonv2.Unmarshal(p.Min, &min); err != nil {
				return nil, fmt.Errorf("a disjunction's min: %v", err)
			}
			dq.SetMin(min)
		}
		return dq, nil
	case p.Must != nil || p.Should != nil || p.MustNot != nil || p.Filter != nil:
		bq := query.NewBooleanQuery(nil, nil, nil)
		for _, c := range []struct {
			from *peerQuery
			to   *query.Query
		}{{p.Must, &bq.Must}, {p.Should, &bq.Should}, {p.MustNot, &bq.MustNot}, {p.Filter, &bq.Filter}} {
			if c.from == nil {
				continue
			}
			q, err := c.from.query()
			if err != nil {
				return nil, err
			}
			*c.to = q
		}
		return bq, nil
	case len(p.Min) > 0 || len(p.Max) > 0:
		return p.rangeQuery()
	}
	return nil, fmt.Errorf("a query of no kind a shard asks")
}

// rangeQuery is a numeric range (numbers) or a term range (strings).
func (p *peerQuery) rangeQuery() (query.Query, error) {
	isString := func(raw jsontext.Value) bool { return len(raw) > 0 && raw[0] == '"' }
	if isString(p.Min) || isString(p.Max) {
		var lo, hi string
		for _, b := range []struct {
			raw jsontext.Value
			to  *string
		}{{p.Min, &lo}, {p.Max, &hi}} {
			if len(b.raw) > 0 {
				if err := jsonv2.Unmarshal(b.raw, b.to); err != nil {
					return nil, fmt.Errorf("a term range: %v", err)
				}
			}
		}
		q := query.NewTermRangeInclusiveQuery(lo, hi, p.InclusiveMin, p.InclusiveMax)
		q.SetField(p.Field)
		return q, nil
	}
	var lo, hi *float64
	for _, b := range []struct {
		raw jsontext.Value
		to  **float64
	}{{p.Min, &lo}, {p.Max, &hi}} {
		if len(b.raw) > 0 {
			var v float64
			if err := jsonv2.Unmarshal(b.raw, &v); err != nil {
				return nil, fmt.Errorf("a numeric range: %v", err)
			}
			*b.to = &v
		}
	}
	q := query.NewNumericRangeInclusiveQuery(lo, hi, p.InclusiveMin, p.InclusiveMax)
	q.SetField(p.Field)
	return q, nil
}

func children(ps []peerQuery) ([]query.Query, error) {
	qs := make([]query.Query, len(ps))
	for i := range ps {
		var err error
		if qs[i], err = ps[i].query(); err != nil {
			return nil, err
		}
	}
	return qs, nil
}
