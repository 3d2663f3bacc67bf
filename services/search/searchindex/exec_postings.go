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

	in    roaring.IntPeekable   // the candidates in the list
	lens  lengthsOf             // the field's length in each document of the segment
	reps  repeats               // the documents that hold the word more than once
	repAt []roaring.IntPeekable // by repeat count of reps, its first document not before num; made on first use

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
	return c.sqrtTF() * lengthNorm(c.lens.of(c.num))
}

// sqrtTF is √tf at the current posting. A cursor only moves forward, so each repeat count's documents are
// walked along with it: a look-up in each of their bitmaps for every match was a tenth of a title's CPU.
func (c *postingCursor) sqrtTF() float64 {
	if len(c.reps) == 0 {
		return 1
	}
	if c.repAt == nil {
		c.repAt = make([]roaring.IntPeekable, len(c.reps))
		for i, r := range c.reps {
			c.repAt[i] = r.docs.Iterator()
		}
	}
	d := uint32(c.num)
	for i, it := range c.repAt {
		it.AdvanceIfNeeded(d)
		if it.HasNext() && it.PeekNext() == d {
			return c.reps[i].tf
		}
	}
	return 1
}
