package searchindex

import (
	"math"

	"github.com/RoaringBitmap/roaring/v2"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// postingCursor is a term's postings in the merge of a segment's matches and the posting it is on: the
// candidates the list holds, scored from the field's lengths and the word's repeats (textstats.go), or,
// for a phrase's word (read with its positions) and a field without them, zap's iterator. num is
// math.MaxUint64 past the last.
type postingCursor struct {
	it segment.PostingsIterator
	p  segment.Posting

	in   roaring.IntPeekable // the candidates in the list
	lens lengthsOf           // the field's length in each document of the segment
	reps repeats             // the documents that hold the word more than once
	// Walking reps along (see sqrtTF): by repeat count, its documents, and the first of them not before the
	// last look-up (math.MaxUint64 past its last); made on first use.
	repAt   []roaring.IntPeekable
	repNext []uint64
	repMin  uint64 // the least of repNext: no document before it repeats the word

	num uint64
}

// next moves to the next posting.
func (c *postingCursor) next() error {
	if c.in != nil {
		if !c.in.HasNext() {
			c.num = math.MaxUint64
			return nil
		}
		c.num = uint64(c.in.Next())
		return nil
	}
	p, err := c.it.Next()
	c.at(p)
	return err
}

// advance moves to the first posting at or after document d.
func (c *postingCursor) advance(d uint64) error {
	if c.in != nil {
		c.in.AdvanceIfNeeded(uint32(min(d, math.MaxUint32)))
		return c.next()
	}
	p, err := c.it.Advance(d)
	c.at(p)
	return err
}

func (c *postingCursor) at(p segment.Posting) {
	if p == nil {
		c.p, c.num = nil, math.MaxUint64
		return
	}
	c.p, c.num = p, p.Number()
}

// tfNorm is the current posting's √tf × norm, computed as the scoring of zap's postings computes it. It is
// asked at a posting (not past the last), and of a cursor scored from the stats only as it moves forward.
func (c *postingCursor) tfNorm() float64 {
	if c.in == nil {
		return math.Sqrt(float64(c.p.Frequency())) * c.p.Norm()
	}
	return c.sqrtTF() * lengthNorm(c.lens.of(c.num))
}

// sqrtTF is √tf at the current posting. A cursor only moves forward, so each repeat count's documents are
// walked along with it, and a match before the next repeating document, most of them, costs a comparison.
func (c *postingCursor) sqrtTF() float64 {
	if len(c.reps) == 0 {
		return 1
	}
	if c.repAt == nil {
		c.repAt, c.repNext = make([]roaring.IntPeekable, len(c.reps)), make([]uint64, len(c.reps))
		c.repMin = math.MaxUint64
		for i, r := range c.reps {
			c.repAt[i] = r.docs.Iterator()
			c.repNext[i] = peek(c.repAt[i])
			c.repMin = min(c.repMin, c.repNext[i])
		}
	}
	d := c.num
	if d < c.repMin {
		return 1
	}
	tf := 1.0
	c.repMin = math.MaxUint64
	for i, it := range c.repAt {
		if c.repNext[i] < d {
			it.AdvanceIfNeeded(uint32(d))
			c.repNext[i] = peek(it)
		}
		if c.repNext[i] == d { // the counts' documents are apart: a document repeats a word so many times
			tf = c.reps[i].tf
		}
		c.repMin = min(c.repMin, c.repNext[i])
	}
	return tf
}

// peek is the document it is on; math.MaxUint64 past its last.
func peek(it roaring.IntPeekable) uint64 {
	if it.HasNext() {
		return uint64(it.PeekNext())
	}
	return math.MaxUint64
}
