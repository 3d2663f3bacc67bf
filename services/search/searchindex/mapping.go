package searchindex

import (
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/analysis/char/regexp"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"marquee/services/search"
)

// The analyzers of the index. Query text goes through textAnalyzer too, so that a query term and an indexed
// term are compared in the same form ("Amélie" and "amelie" both become "amelie").
const (
	textAnalyzer = "marquee_text"    // unicode words, ASCII-folded, lower case
	sortAnalyzer = "marquee_sortkey" // the whole value as one folded, lower-case term: a sort key
	// dotsFilter drops the dots that hold a word's letters together (WALL·E), which no one types: the word
	// is then walle, as typed, and wall e finds it as two words written as one.
	dotsFilter = "marquee_inner_dots"
)

// The indexed fields. Text fields are analyzed for the query text; keyword fields hold whole values for
// filters and facets; key fields hold a whole value normalized like the text (case, accents, punctuation), for
// the boost of a query that is that whole value; labelled fields hold a person's key and name as written in
// one term, so a filter matches however the client writes the name and a facet shows it (see labelled).
const (
	fieldTitle      = "title"
	fieldTitleKey   = "title_key" // the normalized title, and again without a leading article: exact-title boost
	fieldTitleSort  = "title_sort"
	fieldDirectors  = "directors"
	fieldDirector   = "director" // labelled: filter and facet
	fieldCast       = "cast"
	fieldCastName   = "cast_name" // labelled: filter and facet
	fieldGenres     = "genres"
	fieldGenre      = "genre"     // keyword: filter and facet
	fieldGenreKey   = "genre_key" // key: whole-value boost
	fieldKeywords   = "keywords"
	fieldTags       = "tags"
	fieldTagline    = "tagline"
	fieldOverview   = "overview"
	fieldYear       = "year"
	fieldRating     = "rating"
	fieldPopularity = "popularity"
	fieldVotes      = "votes"
	fieldRuntime    = "runtime_minutes"
	fieldSample     = "sample" // keyword: the movie's sample bucket (sampleKey), for facets counted on a sample
	fieldSource     = "source" // the event's movie JSON, stored and not indexed: a hit returns the full movie
	// fieldTextStats holds what scoring reads of the text fields: their lengths, and the words they hold
	// more than once (textstats.go). Not in the mapping: Apply appends it to each mapped document.
	fieldTextStats = "text_stats"
)

// mappingVersion names the shape of newMapping and of the documents. Open rebuilds an index written with
// another version (from the stream, which keeps every movie's last state); bump it with every change.
const mappingVersion = "14"

// newMapping is the explicit index mapping. Nothing is dynamic: a field that is not declared here is
// neither indexed nor stored, so a change of the mapping shows up in review and in the golden tests.
// Changing it requires a rebuild of the index from the stream (bump mappingVersion).
func newMapping() (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	if err := m.AddCustomCharFilter(dotsFilter, map[string]any{"type": regexp.Name, "regexp": `[·‧•]`, "replace": ""}); err != nil {
		return nil, err
	}
	if err := m.AddCustomAnalyzer(textAnalyzer, map[string]any{
		"type":          custom.Name,
		"char_filters":  []string{dotsFilter, asciifolding.Name},
		"tokenizer":     unicode.Name,
		"token_filters": []string{lowercase.Name},
	}); err != nil {
		return nil, err
	}
	if err := m.AddCustomAnalyzer(sortAnalyzer, map[string]any{
		"type":          custom.Name,
		"char_filters":  []string{asciifolding.Name},
		"tokenizer":     single.Name,
		"token_filters": []string{lowercase.Name},
	}); err != nil {
		return nil, err
	}
	m.DefaultAnalyzer = textAnalyzer
	m.ScoringModel = index.TFIDFScoring
	m.IndexDynamic = false
	m.StoreDynamic = false
	m.DocValuesDynamic = false

	text := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = textAnalyzer
		f.Store = false             // the source field holds the whole movie
		f.IncludeTermVectors = true // phrase queries need positions
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	keyword := func(name string, docValues bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Name = name
		f.Store = false
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = docValues // facets read doc values
		return f
	}
	numeric := func() *mapping.FieldMapping {
		f := bleve.NewNumericFieldMapping()
		f.Store = false
		f.IncludeInAll = false
		f.DocValues = true // sorts and the ranking read doc values
		return f
	}
	// A number held as one term, its shift-0 prefix code (see exactNumber): what Bleve's sorts, numeric
	// facets and our priors read. A numeric field indexes 15 more terms, one per 4-bit precision step, which
	// only range queries over many distinct values need; year, rating and runtime have few distinct values
	// (their ranges walk them in the dictionary) and votes are never a range. Those 60 terms were a quarter
	// of a movie's index terms.
	exact := func(name string) *mapping.FieldMapping { return keyword(name, true) }

	titleSort := bleve.NewTextFieldMapping()
	titleSort.Analyzer = sortAnalyzer
	titleSort.Store = false
	titleSort.IncludeTermVectors = false
	titleSort.IncludeInAll = false
	titleSort.DocValues = true

	source := bleve.NewTextFieldMapping()
	source.Index = false
	source.Store = true
	source.IncludeTermVectors = false
	source.IncludeInAll = false
	source.DocValues = false

	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fieldTitle, text())
	doc.AddFieldMappingsAt(fieldTitleKey, keyword(fieldTitleKey, false))
	doc.AddFieldMappingsAt(fieldTitleSort, titleSort)
	doc.AddFieldMappingsAt(fieldDirectors, text())
	doc.AddFieldMappingsAt(fieldDirector, keyword(fieldDirector, true))
	doc.AddFieldMappingsAt(fieldCast, text())
	doc.AddFieldMappingsAt(fieldCastName, keyword(fieldCastName, true))
	doc.AddFieldMappingsAt(fieldGenres, text())
	doc.AddFieldMappingsAt(fieldGenre, keyword(fieldGenre, true))
	doc.AddFieldMappingsAt(fieldGenreKey, keyword(fieldGenreKey, false))
	doc.AddFieldMappingsAt(fieldKeywords, text())
	doc.AddFieldMappingsAt(fieldTags, text())
	doc.AddFieldMappingsAt(fieldTagline, text())
	doc.AddFieldMappingsAt(fieldOverview, text())
	for _, c := range search.CodeFilters { // keyword: filter and facet
		doc.AddFieldMappingsAt(c.Name, keyword(c.Name, true))
	}
	for _, f := range []string{fieldYear, fieldRating, fieldVotes, fieldRuntime} {
		doc.AddFieldMappingsAt(f, exact(f))
	}
	doc.AddFieldMappingsAt(fieldPopularity, numeric()) // many distinct values, and range-filtered
	doc.AddFieldMappingsAt(fieldSample, keyword(fieldSample, false))
	doc.AddFieldMappingsAt(fieldSource, source)
	// No composite "_all" field: every query names its fields, and composing one from every field of every
	// document cost a tenth of the indexing CPU for nothing.
	doc.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())
	m.DefaultMapping = doc
	return m, m.Validate()
}
