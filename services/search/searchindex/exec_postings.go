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

// tfNorm is the current posting's √tf × norm, computed as the scoring of zap's postings computes it.
func (c *postingCursor) tfNorm() float64 {
	if c.in == nil {
		return math.Sqrt(float64(c.p.Frequency())) * c.p.Norm()
	}
	return c.reps.sqrtTF(uint32(c.num)) * lengthNorm(c.lens.of(c.num))
}
