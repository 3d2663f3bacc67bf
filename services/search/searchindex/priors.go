package searchindex

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/numeric"
	blevesearch "github.com/blevesearch/bleve/v2/search"

	"marquee/services/search"
)

// priors are every movie's vote count and rating in memory, by movie id: the inputs of the ranking's
// prior. The custom scorer runs on every match of a text query, and reading two doc values per match from
// the index (a compressed chunk decoded per 1,024 documents, per field, per query) was half the CPU of a
// text search. They also keep a histogram of popularity, which lets a browse page (most popular first) sort
// only the movies that can be on it. Twelve bytes a movie; built from the index's doc values on open and kept
// by Apply.
type priors struct {
	mu   sync.RWMutex
	rows []priorRow // by movie id
	hist [popBuckets]int
	// ratingSum and rated are the sum and the number of the ratings that have votes: the catalog's mean
	// rating, which the weighted rating pulls towards.
	ratingSum float64
	rated     int
}

// priorRow is one movie's ranking inputs; NaN marks a missing value, popBucket -1 a missing popularity.
type priorRow struct {
	votes, rating float32
	popBucket     int16
}

var missingRow = priorRow{votes: float32(math.NaN()), rating: float32(math.NaN()), popBucket: -1}

// Popularity buckets are logarithmic: popularity p falls in bucket ⌊popScale·ln(1+p)⌋, so the buckets of
// the few very popular movies, the ones browse pages show, are fine.
const (
	popBuckets = 4096
	popScale   = 256.0
)

func popBucket(p float64) int16 {
	b := int(popScale * math.Log1p(max(p, 0)))
	return int16(min(max(b, 0), popBuckets-1))
}

// popFloor is the least popularity of bucket b, a little less so that rounding never leaves a movie of b
// out of a range that starts there.
func popFloor(b int) float64 { return math.Expm1(float64(b)/popScale)*(1-1e-9) - 1e-9 }

func rowOf(m *search.Movie) priorRow {
	r := missingRow
	if m.Votes != nil {
		r.votes = float32(*m.Votes)
	}
	if m.Rating != nil {
		r.rating = float32(*m.Rating)
	}
	if m.Popularity != nil {
		r.popBucket = popBucket(*m.Popularity)
	}
	return r
}

// set records the row of a movie; a delete records a missing row.
func (p *priors) set(id int64, r priorRow) {
	if id <= 0 || id > math.MaxInt32 {
		return // ids are the catalog's; one out of this range scores without a prior
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if int(id) >= len(p.rows) {
		grown := make([]priorRow, max(int(id)+1, 2*len(p.rows)))
		copy(grown, p.rows)
		for i := len(p.rows); i < len(grown); i++ {
			grown[i] = missingRow
		}
		p.rows = grown
	}
	if old := p.rows[id].popBucket; old >= 0 {
		p.hist[old]--
	}
	if old := p.rows[id]; old.voted() {
		p.ratingSum -= float64(old.rating)
		p.rated--
	}
	if r.voted() {
		p.ratingSum += float64(r.rating)
		p.rated++
	}
	if r.popBucket >= 0 {
		p.hist[r.popBucket]++
	}
	p.rows[id] = r
}

// popularityFloor returns a popularity that at least k movies reach or exceed, as high as the histogram
// allows; false if fewer than k movies have a popularity.
func (p *priors) popularityFloor(k int) (float64, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 0
	for b := popBuckets - 1; b >= 0; b-- {
		if n += p.hist[b]; n >= k {
			return popFloor(b), true
		}
	}
	return 0, false
}

// voted reports whether the row has a rating with votes: one that the catalog's mean rating counts.
func (r priorRow) voted() bool { return !math.IsNaN(float64(r.rating)) && r.votes > 0 }

// ratings is the sum and the number of the ratings that have votes: their mean is the catalog's mean
// rating, which the weighted rating pulls towards (over every shard's, in a catalog split across indexes).
func (p *priors) ratings() (sum float64, n uint64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ratingSum, uint64(p.rated)
}

// weightedRating returns the weighted rating of a movie (see weightedRating) towards mean, or towards its
// own rating when mean is NaN (a catalog without votes has no mean to pull towards); false if it has no
// rating.
func (p *priors) weightedRating(id int64, mean, m float64) (float64, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if id <= 0 || id >= int64(len(p.rows)) || math.IsNaN(float64(p.rows[id].rating)) {
		return 0, false
	}
	row := p.rows[id]
	if math.IsNaN(mean) {
		mean = float64(row.rating)
	}
	return weightedRating(float64(row.rating), float64(row.votes), mean, m), true
}

func (p *priors) get(id int64) priorRow {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if id <= 0 || id >= int64(len(p.rows)) {
		return missingRow
	}
	return p.rows[id]
}

// yieldEvery is how many matches a search scores between two yields of its processor. A search of a
// common word scores hundreds of thousands of matches in one run of tens of milliseconds, and Go preempts a
// running goroutine only every 10 ms: a write on its way to the index (the outbox relay, the stream, the
// indexer, the reader waiting for its version) wakes a goroutine at each step, and with every core searching
// each step waited for a search's slice to end. Yielding lets them in between; a yield costs well under a
// microsecond, a match about one.
const yieldEvery = 256

// scorer is the custom-score callback of ranking r: the text score times the movie's prior (in a topic's
// tier, the prior to the power r.TopicPopularity). Bleve resolves the hit's id before calling it.
func (x *Index) scorer(r Ranking, topic bool) func(context.Context, *blevesearch.DocumentMatch) (float64, error) {
	var scored atomic.Uint32 // the shards of one search share the callback
	return func(_ context.Context, d *blevesearch.DocumentMatch) (float64, error) {
		if scored.Add(1)%yieldEvery == 0 {
			runtime.Gosched()
		}
		id, err := strconv.ParseInt(d.ID, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("score: document id %q: %w", d.ID, err)
		}
		row := x.priors.get(id)
		votes, rating := float64(row.votes), float64(row.rating)
		return d.Score * r.priorIn(topic, r.prior(votes, rating, !math.IsNaN(votes), !math.IsNaN(rating))), nil
	}
}

// buildPriors reads every movie's votes and rating from the index's doc values. Call it before any Apply.
func (x *Index) buildPriors(ctx context.Context) error {
	p := &priors{}
	for _, bi := range x.shards {
		if err := p.read(ctx, bi); err != nil {
			return err
		}
	}
	x.priors = p
	return nil
}

// read adds the rows of every movie of one shard.
func (p *priors) read(ctx context.Context, bi bleve.Index) error {
	adv, err := bi.Advanced()
	if err != nil {
		return fmt.Errorf("priors: %w", err)
	}
	r, err := adv.Reader()
	if err != nil {
		return fmt.Errorf("priors: %w", err)
	}
	defer func() { _ = r.Close() }()
	ids, err := r.DocIDReaderAll()
	if err != nil {
		return fmt.Errorf("priors: %w", err)
	}
	defer func() { _ = ids.Close() }()
	dv, err := r.DocValueReader([]string{fieldVotes, fieldRating, fieldPopularity})
	if err != nil {
		return fmt.Errorf("priors: %w", err)
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		internal, err := ids.Next()
		if err != nil {
			return fmt.Errorf("priors: %w", err)
		}
		if internal == nil {
			break
		}
		ext, err := r.ExternalID(internal)
		if err != nil {
			return fmt.Errorf("priors: %w", err)
		}
		id, err := strconv.ParseInt(ext, 10, 64)
		if err != nil {
			continue // not a movie
		}
		row := missingRow
		err = dv.VisitDocValues(internal, func(field string, term []byte) {
			if valid, shift := numeric.ValidPrefixCodedTermBytes(term); !valid || shift != 0 {
				return
			}
			i64, err := numeric.PrefixCoded(term).Int64()
			if err != nil {
				return
			}
			switch v := numeric.Int64ToFloat64(i64); field {
			case fieldVotes:
				row.votes = float32(v)
			case fieldRating:
				row.rating = float32(v)
			case fieldPopularity:
				row.popBucket = popBucket(v)
			}
		})
		if err != nil {
			return fmt.Errorf("priors: %w", err)
		}
		p.set(id, row)
	}
	return nil
}
