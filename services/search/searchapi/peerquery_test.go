package searchapi

import (
	"encoding/json"
	"testing"

	"github.com/blevesearch/bleve/v2/search/query"
)

// The queries a shard asks its peers to count read back as the queries Bleve's own parser reads, and
// every other kind of query is refused.
func TestPeerQueryReadsWhatShardsAsk(t *testing.T) {
	term := func(field, word string, boost float64) query.Query {
		q := query.NewTermQuery(word)
		q.SetField(field)
		q.SetBoost(boost)
		return q
	}
	prefix := query.NewPrefixQuery("matr")
	prefix.SetField("title")
	lo, hi, yes, no := 1990.0, 2000.0, true, false
	years := query.NewNumericRangeInclusiveQuery(&lo, &hi, &yes, &no)
	years.SetField("year")
	from := query.NewNumericRangeInclusiveQuery(&lo, nil, &yes, nil)
	from.SetField("popularity")
	keys := query.NewTermRangeInclusiveQuery("a", "b", &yes, &no)
	keys.SetField("title_key")
	any2 := query.NewDisjunctionQuery([]query.Query{term("title", "the", 2), term("overview", "matrix", 1), prefix})
	any2.SetMin(2)
	not := query.NewBooleanQuery([]query.Query{term("genre", "Drama", 1)}, []query.Query{term("cast_name", "keanu reeves\x1fKeanu Reeves", 1)}, []query.Query{years})
	for _, q := range []query.Query{
		term("title", "matrix", 3),
		prefix,
		query.NewPhraseQuery([]string{"the", "matrix"}, "title"),
		query.NewMatchAllQuery(),
		query.NewMatchNoneQuery(),
		years, from, keys, any2, not,
		query.NewConjunctionQuery([]query.Query{any2, not, query.NewBooleanQuery([]query.Query{query.NewMatchAllQuery()}, nil, []query.Query{from})}),
	} {
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parsePeerQuery(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		bleves, err := query.ParseQuery(b)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(bleves)
		if string(g) != string(w) {
			t.Errorf("%s read as\n%s, Bleve reads\n%s", b, g, w)
		}
	}
	for _, bad := range []string{
		`{"regexp":".*","field":"title"}`, `{"wildcard":"*","field":"title"}`, `{"term":"x","field":"title","fuzziness":2}`,
		`{"query":"title:love"}`, `{"match":"love"}`, `{"prefix":"","field":"title"}`, `{"terms":["a","b"],"fuzziness":1}`,
		`{"conjuncts":[{"regexp":"a.*"}]}`, `{"must":{"conjuncts":[{"wildcard":"*"}]}}`, `{}`, `{"start":"2020","end":"2021"}`,
		`{"term":"x","drop":"index"}`, `[1]`,
	} {
		if q, err := parsePeerQuery([]byte(bad)); err == nil {
			t.Errorf("%s read as %T", bad, q)
		}
	}
}

// parsePeerQuery reads q as the query of a count question.
func parsePeerQuery(b []byte) (query.Query, error) {
	q, err := parsePeerQuestion([]byte(`{"op":"count","query":` + string(b) + `}`))
	return q.Query, err
}
