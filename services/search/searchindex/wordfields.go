package searchindex

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"slices"

	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"github.com/blevesearch/vellum"
)

// A word's typo variants are looked up in every text field, and each field has a dictionary of its own in
// every segment: walking eight dictionaries with a word's Levenshtein automaton was a tenth of a free-text
// query. Each segment therefore also gets one dictionary of every text field's words, each with the set of
// fields that hold it, built in memory the first time a search needs it: one walk finds a word's variants
// in every field.

// wordFieldNames are the fields of the segment's words dictionary: the text fields (see textFields), each
// a bit of a word's value, in this order. Typo variants in another field are looked up in its own dictionary.
var wordFieldNames = []string{fieldTitle, fieldDirectors, fieldCast, fieldGenres, fieldKeywords, fieldTags, fieldTagline, fieldOverview}

// wordFieldBit is the bit of field in a word's value, or -1 for a field the words dictionary leaves out.
func wordFieldBit(field string) int {
	for i, f := range wordFieldNames {
		if f == field {
			return i
		}
	}
	return -1
}

// typoVariant is a word of the segment within some edits of a query word: its distance, and the fields
// that hold it (a bit per wordFieldNames).
type typoVariant struct {
	term   string
	dist   uint8
	fields uint64
}

// buildWordFields merges the text fields' dictionaries of seg into one FST whose value for a word is the
// set of fields that hold it.
func buildWordFields(seg segment.Segment) (*vellum.FST, error) {
	var its wordHeap
	for bit, field := range wordFieldNames {
		d, err := seg.Dictionary(field)
		if err != nil {
			return nil, fmt.Errorf("dictionary of %s: %w", field, err)
		}
		if d == nil {
			continue
		}
		w := &wordCursor{it: wordsWithoutCounts(d, nil, nil, nil), bit: uint64(1) << bit}
		if err := w.next(); err != nil {
			return nil, err
		}
		if w.term != "" || w.more {
			its = append(its, w)
		}
	}
	heap.Init(&its)
	var buf bytes.Buffer
	b, err := vellum.New(&buf, nil)
	if err != nil {
		return nil, err
	}
	for len(its) > 0 {
		term, fields := its[0].term, uint64(0)
		for len(its) > 0 && its[0].term == term {
			w := its[0]
			fields |= w.bit
			if err := w.next(); err != nil {
				return nil, err
			}
			if w.more {
				heap.Fix(&its, 0)
			} else {
				heap.Pop(&its)
			}
		}
		if err := b.Insert([]byte(term), fields); err != nil {
			return nil, err
		}
	}
	if err := b.Close(); err != nil {
		return nil, err
	}
	return vellum.Load(buf.Bytes())
}

// wordCursor is a field's dictionary in the merge, on its current word.
type wordCursor struct {
	it   segment.DictionaryIterator
	bit  uint64
	term string
	more bool
}

func (w *wordCursor) next() error {
	e, err := w.it.Next()
	if err != nil {
		return err
	}
	w.more = e != nil
	if e != nil {
		w.term = e.Term
	}
	return nil
}

type wordHeap []*wordCursor

func (h wordHeap) Len() int           { return len(h) }
func (h wordHeap) Less(i, j int) bool { return h[i].term < h[j].term }
func (h wordHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wordHeap) Push(v any)        { *h = append(*h, v.(*wordCursor)) }
func (h *wordHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// wordVariants is the words of fst that dfa accepts, with their edit distances and fields.
func wordVariants(fst *vellum.FST, dfa vellum.Automaton) ([]typoVariant, error) {
	it, err := fst.Search(dfa, nil, nil)
	var out []typoVariant
	for err == nil {
		term, fields := it.Current()
		out = append(out, typoVariant{term: string(term), dist: it.EditDistance(), fields: fields})
		err = it.Next()
	}
	if !errors.Is(err, vellum.ErrIteratorDone) {
		return nil, err
	}
	return out, nil
}

// fieldEntries is the variants in the field of the given bit, as the field's own dictionary walk lists them.
func fieldEntries(vs []typoVariant, bit int) []index.DictEntry {
	var out []index.DictEntry
	for _, v := range vs {
		if bit >= 0 && bit < 64 && v.fields&(uint64(1)<<bit) != 0 {
			out = append(out, index.DictEntry{Term: v.term, EditDistance: v.dist})
		}
	}
	return out
}

// typoVariants is the words of every text field of seg within fuzz edits of word, from the cache or found
// with dfa in the segment's words dictionary (built on first use), and kept.
func (sc *segmentCache) typoVariants(seg segment.Segment, word string, fuzz int, dfa func() (vellum.Automaton, error)) ([]typoVariant, error) {
	return sc.wordsMatching(seg, wordsKey{"", word, fuzz}, dfa)
}

// wordsMatching is the words of seg's words dictionary that the automaton accepts, kept under k.
func (sc *segmentCache) wordsMatching(seg segment.Segment, k wordsKey, automaton func() (vellum.Automaton, error)) ([]typoVariant, error) {
	return kept(&sc.mu, &sc.typos, k, func() ([]typoVariant, error) {
		fst, err := sc.buildWordFields(seg)
		if err != nil {
			return nil, err
		}
		a, err := automaton()
		if err != nil {
			return nil, err
		}
		return wordVariants(fst, a)
	})
}

// buildWordFields returns the words dictionary of seg, built on the first call that succeeds.
func (sc *segmentCache) buildWordFields(seg segment.Segment) (*vellum.FST, error) {
	sc.wordFieldsMu.Lock()
	defer sc.wordFieldsMu.Unlock()
	if sc.wordFields == nil {
		fst, err := buildWordFields(seg)
		if err != nil {
			return nil, err
		}
		sc.wordFields = fst
	}
	return sc.wordFields, nil
}

// wordFields is the set of text fields that hold word in any segment (a bit per wordFieldNames), of every
// shard of the catalog.
func (ir *dictReader) wordFields(word string) (uint64, error) {
	fields, err := ir.wordFieldsOf([]string{word})
	return fields[word], err
}

// wordFieldsOf is wordFields of each of words, found once a reader (a search): its peers are asked for
// the words not found yet in one question.
func (ir *dictReader) wordFieldsOf(words []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(words))
	var missing []string
	ir.fieldsMu.Lock()
	for _, w := range words {
		if f, ok := ir.fields[w]; ok {
			out[w] = f
		} else if !slices.Contains(missing, w) {
			missing = append(missing, w)
		}
	}
	ir.fieldsMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	own := make(map[string]uint64, len(missing))
	for _, w := range missing {
		f, err := ir.ownWordFields(w)
		if err != nil {
			return nil, err
		}
		out[w] = f
		if f != 0 {
			own[w] = f
		}
	}
	a, _, err := ir.ask(PeerQuestion{Op: AskWordFieldsOfEach, Words: missing}, func() PeerAnswer { return PeerAnswer{WordFields: own} })
	if err != nil {
		return nil, err
	}
	ir.fieldsMu.Lock()
	defer ir.fieldsMu.Unlock()
	if ir.fields == nil {
		ir.fields = map[string]uint64{}
	}
	for _, w := range missing {
		out[w] |= a.WordFields[w]
		ir.fields[w] = out[w]
	}
	return out, nil
}

// ownWordFields is wordFields of the reader's own segments: a lookup in each segment's words dictionary.
func (ir *dictReader) ownWordFields(word string) (uint64, error) {
	var fields uint64
	err := ir.eachSegmentOf(func(seg segment.Segment, sc *segmentCache) error {
		fst, err := sc.buildWordFields(seg)
		if err != nil {
			return err
		}
		v, ok, err := fst.Get([]byte(word))
		if ok {
			fields |= v
		}
		return err
	})
	return fields, err
}
