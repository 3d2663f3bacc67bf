package searchindex

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// A match's score needs, for each word and field, the word's frequency in the field and the field's
// length (Bleve's norm is 1/√length). Zap keeps both beside each posting, in chunks of varints that its
// iterator can only read from the list's start: a search paid a walk of every list it scored from, a
// third of a free-text query's CPU at 1M movies. So each document also indexes what scoring reads, in a
// field of its own (fieldTextStats) that nothing searches:
//
//   - "<f>#<n>": the text field f holds n words (one term a field, its postings read once a segment into
//     an array of lengths by document);
//   - "<f>:<word>\xff<k>": the word occurs k times in f, k > 1 (a word once in a field, by far the most
//     usual, has no such term). The frequency is in the term, so that a match's is found in the few
//     bitmaps of the word's terms, which zap reads as they are, rather than by walking a list.
//
// A term's postings then give the matches as a bitmap, and a match's frequency and norm cost an array
// load and, as a cursor walks those bitmaps along with its matches, mostly a comparison. f is the field's
// index in scoredTextFields, as a letter; 0xff is not in any word (no UTF-8 text holds it).

// scoredTextFields are the text fields fieldTextStats describes; a change of the order needs a new
// mappingVersion.
var scoredTextFields = [...]string{fieldTitle, fieldDirectors, fieldCast, fieldGenres, fieldKeywords, fieldTags, fieldTagline, fieldOverview}

const (
	statsLength = '#'  // after a field's letter: the field's length follows
	statsRepeat = ':'  // after a field's letter: a word the field holds more than once follows
	statsTimes  = 0xff // after that word: how many times
)

// repeatTerm is the stats term of word occurring k times in the field of code; k < 0 leaves the count out,
// for the prefix of them all.
func repeatTerm(code byte, word string, k int) []byte {
	t := append(append([]byte{code, statsRepeat}, word...), statsTimes)
	if k >= 0 {
		t = strconv.AppendInt(t, int64(k), 10)
	}
	return t
}

// statsCode is the letter of a scored text field; false for another field.
func statsCode(field string) (byte, bool) {
	i := slices.Index(scoredTextFields[:], field)
	return byte('a' + i), i >= 0
}

// textStatsField is the fieldTextStats of a document, computed from the document's text fields as Bleve
// analyzes it: Bleve analyzes a document's fields in their order, and this one comes after them.
type textStatsField struct {
	doc    *document.Document
	length int
	freqs  index.TokenFrequencies
}

// addTextStats appends the stats field to a document mapped from toDoc's map.
func addTextStats(doc *document.Document) {
	doc.AddField(&textStatsField{doc: doc})
}

func (f *textStatsField) Name() string                        { return fieldTextStats }
func (f *textStatsField) ArrayPositions() []uint64            { return nil }
func (f *textStatsField) Options() index.FieldIndexingOptions { return index.IndexField }
func (f *textStatsField) Value() []byte                       { return nil }
func (f *textStatsField) NumPlainTextBytes() uint64           { return 0 }
func (f *textStatsField) EncodedFieldType() byte              { return 't' }
func (f *textStatsField) AnalyzedLength() int                 { return f.length }
func (f *textStatsField) Size() int                           { return 64 + 48*len(f.freqs) }

func (f *textStatsField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freqs }

// Analyze adds up each text field's length and its words' frequencies over the field's values (a cast's
// names are one field to zap), as zap does when it writes the postings. Most fields have one value, whose
// frequencies are read as they are; only the words of a field of several values are counted anew.
func (f *textStatsField) Analyze() {
	f.length = 0
	var lengths, values [len(scoredTextFields)]int
	fields := f.doc.Fields[:slices.Index(f.doc.Fields, document.Field(f))]
	for _, fl := range fields {
		if code, ok := statsCode(fl.Name()); ok {
			lengths[code-'a'] += fl.AnalyzedLength()
			values[code-'a']++
		}
	}
	f.freqs = index.TokenFrequencies{}
	add := func(term []byte, n int) {
		tf := &index.TokenFreq{Term: term}
		tf.SetFrequency(n)
		f.freqs[string(term)] = tf
		f.length++
	}
	var counts [len(scoredTextFields)]map[string]int
	for _, fl := range fields {
		code, ok := statsCode(fl.Name())
		if !ok {
			continue
		}
		k := code - 'a'
		for term, tf := range fl.AnalyzedTokenFrequencies() {
			switch {
			case values[k] > 1:
				if counts[k] == nil {
					counts[k] = map[string]int{}
				}
				counts[k][term] += tf.Frequency()
			case tf.Frequency() > 1:
				add(repeatTerm(code, term, tf.Frequency()), 1)
			}
		}
	}
	for k, n := range lengths {
		code := byte('a' + k)
		if n > 0 {
			add(strconv.AppendInt([]byte{code, statsLength}, int64(n), 10), 1)
		}
		for term, tf := range counts[k] {
			if tf > 1 {
				add(repeatTerm(code, term, tf), 1)
			}
		}
	}
}

// fieldLengths says which scored text fields have their lengths in a segment's docStats; a field whose
// lengths do not all fit has none, and its norms come from zap. It also keeps each field's documents by
// length, shortest first, to bound the norms of a set of documents.
type fieldLengths struct {
	docs  []docStats
	fits  [len(scoredTextFields)]bool
	byLen [len(scoredTextFields)][]lengthDocs
}

// lengthDocs is the documents whose field is n words long: the segment's own bitmap (deleted ones
// included), which lives in the segment's memory map, so it is read only by a search whose snapshot holds
// the segment, as every use of a segmentCache is.
type lengthDocs struct {
	n    uint16
	docs *roaring.Bitmap
}

// field is the lengths of field k; false when it has none.
func (fl *fieldLengths) field(k int) (lengthsOf, bool) {
	return lengthsOf{fl.docs, k, fl.byLen[k]}, fl.fits[k]
}

// lengthsOf is one field's lengths in a segment's documents.
type lengthsOf struct {
	docs  []docStats
	k     int
	byLen []lengthDocs
}

// of is the field's length in document d.
func (l lengthsOf) of(d uint64) uint16 { return l.docs[d].lens[l.k] }

// maxNormScan is how many lengths maxNorm tries, shortest first, before it settles for the norm of the
// next: a bound still, as no document it looks for is shorter.
const maxNormScan = 16

// maxNorm is at least the norm the field has in any of docs (documents that hold a word of it): the norm of
// the shortest length one of them has, or, past maxNormScan lengths, of the next length. A score's bound
// takes it instead of 1: an overview's norm is a fraction of that, and a bound that assumed 1 could seldom
// set a word aside (see flat).
func (l lengthsOf) maxNorm(docs *roaring.Bitmap) float64 {
	for i, ld := range l.byLen {
		if i == maxNormScan || ld.docs.Intersects(docs) {
			return lengthNorm(ld.n)
		}
	}
	return 1 // no length found: the bound assumes none
}

// readFieldLengths reads the lengths of a segment's documents from its "<f>#<n>" terms into docs.
func readFieldLengths(seg segment.Segment, docs []docStats) (*fieldLengths, error) {
	fl := &fieldLengths{docs: docs}
	if !slices.Contains(seg.Fields(), fieldTextStats) {
		return fl, nil // a segment written without the stats (zap gives it an empty dictionary): none fit
	}
	d, err := seg.Dictionary(fieldTextStats)
	if err != nil {
		return nil, err
	}
	for k := range scoredTextFields {
		from := []byte{byte('a' + k), statsLength}
		to := []byte{byte('a' + k), statsLength + 1}
		fl.fits[k] = true
		err := eachTerm(d, from, to, func(term string, pl segment.PostingsList) (bool, error) {
			n, err := strconv.ParseUint(term[2:], 10, 64)
			if err != nil {
				return false, fmt.Errorf("term %q: %w", term, err)
			}
			if n > math.MaxUint16 {
				fl.fits[k], fl.byLen[k] = false, nil
				return false, nil
			}
			raw := rawBitmap(pl)
			bit := raw.Iterator()
			for bit.HasNext() {
				if doc := bit.Next(); int(doc) < len(docs) {
					docs[doc].lens[k] = uint16(n)
				}
			}
			if n > 0 {
				fl.byLen[k] = append(fl.byLen[k], lengthDocs{uint16(n), raw})
			}
			return true, nil
		})
		if err != nil {
			return nil, fmt.Errorf("field lengths: %w", err)
		}
		slices.SortFunc(fl.byLen[k], func(a, b lengthDocs) int { return cmp.Compare(a.n, b.n) }) // the terms sort as text
	}
	return fl, nil
}

// repeats is the documents of a segment in which a word occurs in a field more than once: for each count,
// those that hold it so many times, the largest set first.
type repeats []repeated

type repeated struct {
	docs *roaring.Bitmap // the segment's own, deleted documents included
	tf   float64         // √k
}

// readRepeats reads the repeats of term in the field of code; nil when no document repeats it there.
func readRepeats(d segment.TermDictionary, code byte, term string) (repeats, error) {
	from := repeatTerm(code, term, -1)
	to := append(slices.Clone(from), '9'+1)
	var reps repeats
	err := eachTerm(d, from, to, func(term string, pl segment.PostingsList) (bool, error) {
		k, err := strconv.ParseUint(term[len(from):], 10, 64)
		if err != nil {
			return false, fmt.Errorf("term %q: %w", term, err)
		}
		reps = append(reps, repeated{docs: rawBitmap(pl), tf: math.Sqrt(float64(k))})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(reps, func(a, b repeated) int { return cmp.Compare(b.docs.GetCardinality(), a.docs.GetCardinality()) })
	return reps, nil
}

// termTop is the most √tf × norm can be for the word in any of docs, its matches: the largest √tf among them
// times the largest norm, at most 1 (a word occurs at most as often as its field has words).
func termTop(lens lengthsOf, reps repeats, docs *roaring.Bitmap) float64 {
	return min(1, reps.maxSqrtTF(docs)*lens.maxNorm(docs))
}

// maxSqrtTF is the largest √tf the word has in any of docs.
func (reps repeats) maxSqrtTF(docs *roaring.Bitmap) float64 {
	top := 1.0
	for _, r := range reps {
		if r.tf > top && r.docs.Intersects(docs) {
			top = r.tf
		}
	}
	return top
}

// lengthNorm is Bleve's norm of a field of n words, as zap computes it from the length it stores.
func lengthNorm(n uint16) float64 {
	if int(n) < len(shortNorms) {
		return shortNorms[n]
	}
	return float64(float32(1.0 / math.Sqrt(float64(n))))
}

// shortNorms are the norms of the usual lengths, worked out once.
var shortNorms = func() (t [1024]float64) {
	for n := range t {
		t[n] = float64(float32(1.0 / math.Sqrt(float64(n))))
	}
	return t
}()
