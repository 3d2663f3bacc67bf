package searchindex

import (
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
)

// The analyzers of the index. Query text goes through textAnalyzer too, so that a query term and an indexed
// term are compared in the same form ("Amélie" and "amelie" both become "amelie").
const (
	textAnalyzer = "marquee_text"    // unicode words, ASCII-folded, lower case
	sortAnalyzer = "marquee_sortkey" // the whole value as one folded, lower-case term: a sort key
)

// The indexed fields. The document's JSON keys are these names; genreField is a second, untokenized view of
// the genres for filters and facets.
const (
	fieldTitle      = "title"
	fieldTitleSort  = "title_sort"
	fieldDirectors  = "directors"
	fieldCast       = "cast"
	fieldGenres     = "genres"
	fieldGenre      = "genre"
	fieldOverview   = "overview"
	fieldYear       = "year"
	fieldRating     = "rating"
	fieldPopularity = "popularity"
	fieldVotes      = "votes"
	fieldRuntime    = "runtime_minutes"
	fieldSource     = "source" // the event's movie JSON, stored and not indexed: a hit returns the full movie
)

// newMapping is the explicit index mapping. Nothing is dynamic: a field that is not declared here is
// neither indexed nor stored, so a change of the mapping shows up in review and in the golden tests.
// Changing it requires a rebuild of the index from the stream.
func newMapping() (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	if err := m.AddCustomAnalyzer(textAnalyzer, map[string]any{
		"type":          custom.Name,
		"char_filters":  []string{asciifolding.Name},
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
	m.IndexDynamic = false
	m.StoreDynamic = false
	m.DocValuesDynamic = false

	text := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = textAnalyzer
		f.Store = false // the source field holds the whole movie
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	keyword := func(name string) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Name = name
		f.Store = false
		f.IncludeInAll = false
		f.DocValues = true // facets read doc values
		return f
	}
	numeric := func() *mapping.FieldMapping {
		f := bleve.NewNumericFieldMapping()
		f.Store = false
		f.IncludeInAll = false
		f.DocValues = true // sorts read doc values
		return f
	}

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
	doc.AddFieldMappingsAt(fieldTitleSort, titleSort)
	doc.AddFieldMappingsAt(fieldDirectors, text())
	doc.AddFieldMappingsAt(fieldCast, text())
	doc.AddFieldMappingsAt(fieldGenres, text(), keyword(fieldGenre))
	doc.AddFieldMappingsAt(fieldOverview, text())
	for _, f := range []string{fieldYear, fieldRating, fieldPopularity, fieldVotes, fieldRuntime} {
		doc.AddFieldMappingsAt(f, numeric())
	}
	doc.AddFieldMappingsAt(fieldSource, source)
	m.DefaultMapping = doc
	return m, m.Validate()
}
