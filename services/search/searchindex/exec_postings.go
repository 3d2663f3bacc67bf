package searchindex

import (
	"container/list"
	"math"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// Zap's postings iterator walks a list from its start whatever it is asked for: narrowed to a few
// candidates, or advanced past most of the list, it still steps through every posting of the term (and
// decodes the frequency and norm of every one in the chunks it stops in). A title word such as "the"
// holds a third of a large catalog, and each search that scored it walked all of them. The long lists
// searches use are therefore kept decoded (document numbers, frequencies, norms), within a budget of
// memory, the least recently used dropped first; a cursor over one finds a document by galloping search.

// minDecoded is the length below which a list is walked with zap's iterator: short lists cost little to
// walk and would fill the cache with lists few searches share.
const minDecoded = 2048

// decodedPostings is a term's postings in one segment, deleted documents included (the candidates a
// cursor is given are live): by position, the document, its frequency and its field norm.
type decodedPostings struct {
	docs  []uint32
	freqs []uint16
	norms []float32 // as zap's Posting.Norm returns them: a float32 widened, so kept without loss
}

// postingBytes is what a decoded posting takes: its document, frequency and norm.
const postingBytes = 4 + 2 + 4

func (dp *decodedPostings) bytes() int64 { return int64(len(dp.docs)) * postingBytes }

// decodePostings reads a whole list; nil if a frequency does not fit (such a list stays with zap's iterator).
func decodePostings(pl segment.PostingsList) (*decodedPostings, error) {
	n := pl.Count()
	dp := &decodedPostings{docs: make([]uint32, 0, n), freqs: make([]uint16, 0, n), norms: make([]float32, 0, n)}
	it := pl.Iterator(true, true, false, nil)
	for {
		p, err := it.Next()
		if err != nil {
			return nil, err
		}
		if p == nil {
			return dp, nil
		}
		if p.Frequency() > math.MaxUint16 || p.Number() > math.MaxUint32 {
			return nil, nil
		}
		dp.docs = append(dp.docs, uint32(p.Number()))
		dp.freqs = append(dp.freqs, uint16(p.Frequency()))
		dp.norms = append(dp.norms, float32(p.Norm()))
	}
}

// postingsCache keeps decoded postings lists across searches and segments, within budget bytes. A list
// is decoded the second time it is asked for: decoding costs a few walks of it, which a list that one
// search uses (a rare word's) would never pay back, and such lists would push out the ones many share.
type postingsCache struct {
	mu     sync.Mutex
	budget int64
	bytes  int64
	lru    list.List // of *postingsEntry, the most recently used first
	byKey  map[postingsKey]*list.Element
	asked  map[postingsKey]struct{} // lists asked for once and not decoded; forgotten past maxAsked
}

// maxAsked bounds the lists the cache remembers having been asked for once.
const maxAsked = 1 << 16

// postingsKey names a list: a segment (by its cache, one per segment) and a term of a field.
type postingsKey struct {
	seg         *segmentCache
	field, term string
}

type postingsEntry struct {
	key postingsKey
	dp  *decodedPostings
}

// newPostingsCache returns a cache of budget bytes; nil (no cache) for a budget of 0 or less.
func newPostingsCache(budget int64) *postingsCache {
	if budget <= 0 {
		return nil
	}
	return &postingsCache{budget: budget, byKey: map[postingsKey]*list.Element{}, asked: map[postingsKey]struct{}{}}
}

// get returns the decoded list of key, decoding pl when it is asked for the second time (a search asks once
// for each list; see execShard.decodedList); nil when it is not decoded (yet, or at all: shorter than
// minDecoded, longer than a quarter of the budget, a frequency out of range, its segment dropped) or there
// is no cache.
func (c *postingsCache) get(key postingsKey, pl segment.PostingsList) (*decodedPostings, error) {
	if c == nil || pl.Count() < minDecoded || int64(pl.Count())*postingBytes > c.budget/4 {
		return nil, nil
	}
	c.mu.Lock()
	if key.seg.listsDropped {
		c.mu.Unlock()
		return nil, nil
	}
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*postingsEntry).dp, nil
	}
	if _, ok := c.asked[key]; !ok {
		if len(c.asked) >= maxAsked {
			clear(c.asked)
		}
		c.asked[key] = struct{}{}
		c.mu.Unlock()
		return nil, nil
	}
	delete(c.asked, key)
	c.mu.Unlock()
	dp, err := decodePostings(pl) // outside the lock: two searches may decode one list, and keep one
	if err != nil || dp == nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*postingsEntry).dp, nil
	}
	if key.seg.listsDropped { // dropped while this search decoded it: keep nothing that would pin it
		return dp, nil
	}
	c.byKey[key] = c.lru.PushFront(&postingsEntry{key, dp})
	c.bytes += dp.bytes()
	for c.bytes > c.budget {
		last := c.lru.Back()
		e := last.Value.(*postingsEntry)
		c.lru.Remove(last)
		delete(c.byKey, e.key)
		c.bytes -= e.dp.bytes()
	}
	return dp, nil
}

// dropSegment forgets the lists of a segment whose cache was dropped (a merge replaced it).
func (c *postingsCache) dropSegment(sc *segmentCache) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sc.listsDropped = true
	for k := range c.asked {
		if k.seg == sc {
			delete(c.asked, k)
		}
	}
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*postingsEntry); e.key.seg == sc {
			c.lru.Remove(el)
			delete(c.byKey, e.key)
			c.bytes -= e.dp.bytes()
		}
		el = next
	}
}

// postingCursor is a term's postings in the merge of a segment's matches and the posting it is on: zap's
// iterator, or a decoded list with the candidates it is narrowed to. num is math.MaxUint64 past the last.
type postingCursor struct {
	it segment.PostingsIterator
	p  segment.Posting

	dec *decodedPostings
	in  roaring.IntPeekable // the candidates in the list, of a decoded one
	pos int                 // in dec, of the current posting

	num uint64
}

// next moves to the next posting.
func (c *postingCursor) next() error {
	if c.dec != nil {
		if !c.in.HasNext() {
			c.num = math.MaxUint64
			return nil
		}
		c.seek(c.in.Next())
		return nil
	}
	p, err := c.it.Next()
	c.at(p)
	return err
}

// advance moves to the first posting at or after document d.
func (c *postingCursor) advance(d uint64) error {
	if c.dec != nil {
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

// seek moves pos forwards to document d, which the list holds (the candidates are in it): exponential
// steps, then a binary search among the last.
func (c *postingCursor) seek(d uint32) {
	docs, lo, step := c.dec.docs, c.pos, 1
	for lo+step < len(docs) && docs[lo+step] < d {
		lo += step
		step *= 2
	}
	k, _ := slices.BinarySearch(docs[lo:min(lo+step+1, len(docs))], d)
	c.pos, c.num = lo+k, uint64(d)
}

// tfNorm is the current posting's √tf × norm, computed as the scoring of zap's postings computes it.
func (c *postingCursor) tfNorm() float64 {
	if c.dec != nil {
		return math.Sqrt(float64(c.dec.freqs[c.pos])) * float64(c.dec.norms[c.pos])
	}
	return math.Sqrt(float64(c.p.Frequency())) * c.p.Norm()
}

// decodedList is term n's list in segment i, decoded if the cache holds it or decodes it now. The cache is
// asked once a search: a search binds one list many times (each tier, a word and its own typo variant), and
// the cache decodes a list the second time it is asked for, so it must count searches.
func (s *execShard) decodedList(n *node, i int, pl segment.PostingsList) (*decodedPostings, error) {
	key := postingsKey{s.segs[i].cache, n.field, n.term}
	if dp, ok := s.decodedLists[key]; ok {
		return dp, nil
	}
	dp, err := s.x.decoded.get(key, pl)
	if err != nil {
		return nil, err
	}
	if s.decodedLists == nil {
		s.decodedLists = map[postingsKey]*decodedPostings{}
	}
	s.decodedLists[key] = dp
	return dp, nil
}
