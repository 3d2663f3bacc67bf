package searchindex

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// priorScored scores the matches of q by their text score times their movie's prior (Ranking.prior). It
// does what Bleve's custom-score query does with a callback, without the callback's price: Bleve resolves
// every match's external id, a stored-field read, so that the callback can look the movie up, which was a
// sixth of a text query's CPU. Here the movie id comes from a table of each segment's ids (segmentIDs).
type priorScored struct {
	q    query.Query
	x    *Index
	rank Ranking
}

func (p priorScored) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, options blevesearch.SearcherOptions) (blevesearch.Searcher, error) {
	s, err := p.q.Searcher(ctx, r, m, options)
	if err != nil {
		return nil, err
	}
	return &priorSearcher{Searcher: s, movieID: p.x.segIDs.resolver(r), priors: p.x.priors, rank: p.rank}, nil
}

// priorSearcher multiplies the score of each match of its searcher by the match's prior.
type priorSearcher struct {
	blevesearch.Searcher
	movieID func(index.IndexInternalID) (int64, error)
	priors  *priors
	rank    Ranking
}

func (s *priorSearcher) Next(ctx *blevesearch.SearchContext) (*blevesearch.DocumentMatch, error) {
	d, err := s.Searcher.Next(ctx)
	if err != nil || d == nil {
		return d, err
	}
	return d, s.score(d)
}

func (s *priorSearcher) Advance(ctx *blevesearch.SearchContext, id index.IndexInternalID) (*blevesearch.DocumentMatch, error) {
	d, err := s.Searcher.Advance(ctx, id)
	if err != nil || d == nil {
		return d, err
	}
	return d, s.score(d)
}

func (s *priorSearcher) score(d *blevesearch.DocumentMatch) error {
	id, err := s.movieID(d.IndexInternalID)
	if err != nil {
		return err
	}
	row := s.priors.get(id)
	votes, rating := float64(row.votes), float64(row.rating)
	d.Score *= s.rank.prior(votes, rating, !math.IsNaN(votes), !math.IsNaN(rating))
	return nil
}

// segmentIDs keeps, for each segment of the index, the movie id of each of its documents. A segment never
// changes (an update deletes the old document and adds one to a new segment; a merge writes a new segment),
// so its table is built once, by the first search that reads it, and dropped after a while unused: a merged
// segment is never read again.
type segmentIDs struct {
	mu     sync.Mutex
	tables map[any]*idTable // by segment
}

type idTable struct {
	once     sync.Once
	ids      []int32 // by the segment's document number; 0 where the id is not a movie id the priors hold
	err      error
	lastUsed atomic.Int64 // unix nanoseconds
}

// idleTable is how long a table stays unused before it is dropped.
const idleTable = time.Minute

// idSegment is what segmentIDs reads of a segment.
type idSegment interface {
	DocID(num uint64) ([]byte, error)
	Count() uint64
}

// resolver returns the function that gives the movie id of a document of the snapshot r. A reader other than
// a scorch snapshot resolves the document's external id, like Bleve.
func (c *segmentIDs) resolver(r index.IndexReader) func(index.IndexInternalID) (int64, error) {
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return func(id index.IndexInternalID) (int64, error) {
			ext, err := r.ExternalID(id)
			if err != nil {
				return 0, err
			}
			return parseMovieID(ext)
		}
	}
	segs := snap.Segments()
	offsets := make([]uint64, len(segs)) // a document's number in the snapshot is its segment's offset + its own
	var next uint64
	for i, ss := range segs {
		offsets[i] = next
		next += ss.Segment().Count()
	}
	tables := make([]*idTable, len(segs)) // looked up on a segment's first match
	now := time.Now().UnixNano()
	c.prune(now)
	return func(id index.IndexInternalID) (int64, error) {
		if len(id) != 8 {
			return 0, fmt.Errorf("score: document number of %d bytes, want 8", len(id))
		}
		num := binary.BigEndian.Uint64(id)
		i := sort.Search(len(offsets), func(i int) bool { return offsets[i] > num }) - 1
		if i < 0 {
			return 0, fmt.Errorf("score: document number %d is outside the snapshot", num)
		}
		if tables[i] == nil {
			tables[i] = c.table(segs[i].Segment(), now)
		}
		t, local := tables[i], num-offsets[i]
		if t.err != nil {
			return 0, t.err
		}
		if local >= uint64(len(t.ids)) {
			return 0, fmt.Errorf("score: document %d of a segment of %d", local, len(t.ids))
		}
		return int64(t.ids[local]), nil
	}
}

// table returns the id table of seg, built on first use.
func (c *segmentIDs) table(seg idSegment, now int64) *idTable {
	c.mu.Lock()
	if c.tables == nil {
		c.tables = map[any]*idTable{}
	}
	t, ok := c.tables[seg]
	if !ok {
		t = &idTable{}
		c.tables[seg] = t
	}
	c.mu.Unlock()
	t.lastUsed.Store(now)
	t.once.Do(func() { t.ids, t.err = readIDs(seg) })
	return t
}

// prune drops the tables unused for idleTable.
func (c *segmentIDs) prune(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for seg, t := range c.tables {
		if now-t.lastUsed.Load() > int64(idleTable) {
			delete(c.tables, seg)
		}
	}
}

// readIDs reads the movie id of every document of seg, deleted ones included (their numbers stay taken).
func readIDs(seg idSegment) ([]int32, error) {
	ids := make([]int32, seg.Count())
	for num := range ids {
		ext, err := seg.DocID(uint64(num))
		if err != nil {
			return nil, fmt.Errorf("score: read document id %d: %w", num, err)
		}
		id, err := parseMovieID(string(ext))
		if err != nil {
			return nil, err
		}
		if id > 0 && id <= math.MaxInt32 { // the priors hold no other ids: 0 scores without a prior, as they do
			ids[num] = int32(id)
		}
	}
	return ids, nil
}

func parseMovieID(ext string) (int64, error) {
	id, err := strconv.ParseInt(ext, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score: document id %q: %w", ext, err)
	}
	return id, nil
}
