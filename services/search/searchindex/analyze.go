package searchindex

import (
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
)

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
