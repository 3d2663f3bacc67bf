// Package searchindex is the search read model: a Bleve (scorch) index on local disk, kept by Apply and
// queried by Search. Next to the documents it keeps, as Bleve internal keys written in the same batch, the
// version (and deleted flag) of every movie it has seen and the stream sequence it has applied up to, so the
// index and its checkpoint are always durable together. A batch is searchable when Apply returns and durable
// soon after (see durable.go).
package searchindex

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/blevesearch/bleve/v2"
	index "github.com/blevesearch/bleve_index_api"

	"marquee/pkg/apperr"
	"marquee/services/search"
)

// boltTimeout bounds the wait for the index's file lock, so a second process on the same folder fails fast
// instead of hanging.
const boltTimeout = "2s"

// Internal keys: the checkpoint, the mapping version, and one tombstone per deleted movie, which is never
// removed unless a newer version brings the movie back. A live movie's version is read from its document,
// not kept as a key: scorch rewrites every internal key into root.bolt on each persisted snapshot, so a key
// per movie made every batch cost in proportion to the catalog (60% of ingest CPU at 100k movies, 15 KB per
// movie on disk). Deletes are few, so tombstones stay cheap.
var (
	checkpointKey     = []byte("checkpoint")
	mappingVersionKey = []byte("mapping_version")
)

func tombstoneKey(id int64) []byte { return []byte("t/" + strconv.FormatInt(id, 10)) }

// Change is one movie change to apply: an upsert carrying the movie's full state, or a delete.
type Change struct {
	ID      int64
	Version int64
	Deleted bool
	Movie   *search.Movie // nil when Deleted
}

var _ search.Searcher = (*Index)(nil)

// Index is the on-disk search index. It is safe for concurrent use; Apply calls are serialised.
type Index struct {
	bi        bleve.Index
	rank      Ranking
	opts      Options
	counts    *facetCounts // browse facets of the whole catalog, kept by Apply; nil until built
	priors    *priors      // every movie's ranking inputs, kept by Apply
	cache     *resultCache // answers by query and checkpoint; nil for none
	applyMu   sync.Mutex   // makes Apply's read-compare-write of versions and checkpoint atomic
	applied   notifier     // wakes readers waiting for a version after each applied batch
	durable   durability   // how far the index is on disk
	closeOnce sync.Once    // Bleve's scorch panics on a second Close
	closeErr  error
}

// Options tune an index.
type Options struct {
	Ranking Ranking // how relevance is scored; the zero value means DefaultRanking
	Scratch bool    // a throwaway index (evaluation, benchmarks): Close does not wait for the disk

	// ExactFacets counts every facet over every match on each search, as if the catalog were small: no
	// maintained counts for the whole catalog and no sampling of large result sets. Benchmarks compare.
	ExactFacets bool
	// FacetSampleAbove is the number of matches above which facets are counted on a sample of them and
	// marked approximate; 0 means DefaultFacetSampleAbove.
	FacetSampleAbove int
	// CacheBytes bounds the cache of search answers (keyed by the query and the index checkpoint); 0
	// means no cache.
	CacheBytes int64
}

// Open opens the index in the folder path with the default options; see OpenWith.
func Open(path string) (*Index, error) { return OpenWith(path, Options{}) }

// OpenWith opens the index in the folder path, creating it (and the folder) if it does not exist. An index
// written by another mapping version is removed and created anew: its checkpoint starts at 0, so the
// indexer rebuilds it from the stream.
func OpenWith(path string, opts Options) (*Index, error) {
	if opts.Ranking == (Ranking{}) {
		opts.Ranking = DefaultRanking()
	}
	if err := opts.Ranking.Validate(); err != nil {
		return nil, err
	}
	// Batch returns once the batch is searchable; each batch's persisted callback says when it is on disk.
	cfg := map[string]any{"bolt_timeout": boltTimeout, "unsafe_batch": true}
	bi, err := bleve.OpenUsing(path, cfg)
	if err == nil {
		v, verr := bi.GetInternal(mappingVersionKey)
		if verr != nil || string(v) != mappingVersion {
			// An index of an older shape: its fields and analyzers are not the ones the queries use.
			if cerr := bi.Close(); cerr != nil {
				return nil, fmt.Errorf("close outdated search index %s: %w", path, cerr)
			}
			if rerr := os.RemoveAll(path); rerr != nil {
				return nil, fmt.Errorf("remove outdated search index %s: %w", path, rerr)
			}
			err = bleve.ErrorIndexPathDoesNotExist
		}
	}
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		m, merr := newMapping()
		if merr != nil {
			return nil, fmt.Errorf("build index mapping: %w", merr)
		}
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create index folder: %w", err)
		}
		bi, err = bleve.NewUsing(path, m, bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, cfg)
		if err == nil {
			if err = bi.SetInternal(mappingVersionKey, []byte(mappingVersion)); err != nil {
				_ = bi.Close()
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	x := &Index{bi: bi, rank: opts.Ranking, opts: opts}
	if x.durable.seq, err = x.Checkpoint(); err != nil {
		_ = bi.Close()
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	if err := x.buildPriors(context.Background()); err != nil {
		_ = bi.Close()
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	if !opts.ExactFacets {
		if err := x.buildFacetCounts(context.Background()); err != nil {
			_ = bi.Close()
			return nil, fmt.Errorf("open search index %s: %w", path, err)
		}
	}
	if opts.CacheBytes > 0 {
		x.cache = newResultCache(opts.CacheBytes)
	}
	return x, nil
}

// Close waits (up to closeWait; not for a Scratch index) until every applied batch is on disk, then
// closes the index and releases its lock. Call it after the last Apply returned. Closing twice is harmless.
func (x *Index) Close() error {
	x.closeOnce.Do(func() {
		if !x.opts.Scratch {
			ctx, cancel := context.WithTimeout(context.Background(), closeWait)
			defer cancel()
			_ = x.WaitDurable(ctx, x.Written()) // past the wait, a reopen replays the rest from the stream
		}
		if err := x.bi.Close(); err != nil {
			x.closeErr = fmt.Errorf("close search index: %w", err)
		}
	})
	return x.closeErr
}

// Checkpoint returns the last stream sequence applied to the index, 0 for a new index.
func (x *Index) Checkpoint() (uint64, error) {
	b, err := x.bi.GetInternal(checkpointKey)
	if err != nil {
		return 0, fmt.Errorf("read checkpoint: %w", err)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("read checkpoint: %d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// Version returns the version of the movie the index holds and whether that version is a delete. A movie the
// index has never seen has version 0.
func (x *Index) Version(id int64) (version int64, deleted bool, err error) {
	b, err := x.bi.GetInternal(tombstoneKey(id))
	if err != nil {
		return 0, false, fmt.Errorf("read tombstone of movie %d: %w", id, err)
	}
	if len(b) > 0 {
		if len(b) != 8 {
			return 0, false, fmt.Errorf("read tombstone of movie %d: %d bytes, want 8", id, len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), true, nil
	}
	src, err := x.source(id)
	if err != nil || src == nil {
		return 0, false, err
	}
	var m struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(src, &m); err != nil {
		return 0, false, fmt.Errorf("read version of movie %d: %w", id, err)
	}
	return m.Version, false, nil
}

// source returns the stored JSON of a movie's document, nil if the index has no document for it.
func (x *Index) source(id int64) ([]byte, error) {
	doc, err := x.bi.Document(strconv.FormatInt(id, 10))
	if err != nil {
		return nil, fmt.Errorf("read movie %d: %w", id, err)
	}
	if doc == nil {
		return nil, nil
	}
	var src []byte
	doc.VisitFields(func(f index.Field) {
		if f.Name() == fieldSource {
			src = f.Value()
		}
	})
	return src, nil
}

// Apply applies a batch of changes read from the stream up to sequence checkpoint and returns how many
// changed the index. Within the batch only the highest version of each movie counts, and it is applied only
// if it is newer than the version the index holds, so duplicates and any delivery order give the same index,
// and a late, older update never resurrects a deleted movie. The documents, the new versions and the
// checkpoint (which never moves backwards) are written in one Bleve batch: when Apply returns nil they are
// searchable together, and once WaitDurable(Written()) returns they are on disk together and the caller
// may acknowledge the messages.
func (x *Index) Apply(ctx context.Context, changes []Change, checkpoint uint64) (applied int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	latest := make(map[int64]Change, len(changes))
	order := make([]int64, 0, len(changes)) // keeps the batch deterministic
	for _, c := range changes {
		if c.ID <= 0 || c.Version <= 0 || (!c.Deleted && c.Movie == nil) {
			return 0, fmt.Errorf("apply: invalid change id=%d version=%d", c.ID, c.Version)
		}
		have, ok := latest[c.ID]
		switch {
		case !ok:
			order = append(order, c.ID)
			latest[c.ID] = c
		case c.Version > have.Version || (c.Version == have.Version && c.Deleted && !have.Deleted):
			latest[c.ID] = c // on a tie a delete wins, so no order of a bad stream can resurrect a movie
		}
	}

	x.applyMu.Lock()
	defer x.applyMu.Unlock()
	b := x.bi.NewBatch()
	delta := newFacetDelta()
	rows := make(map[int64]priorRow, len(order))
	for _, id := range order {
		c := latest[id]
		version, deleted, err := x.Version(id)
		if err != nil {
			return 0, err
		}
		if c.Version <= version {
			continue
		}
		if err := x.noteChange(delta, c, version > 0 && !deleted); err != nil {
			return 0, err
		}
		key := strconv.FormatInt(id, 10)
		rows[id] = missingRow
		if c.Deleted {
			b.Delete(key)
			b.SetInternal(tombstoneKey(id), binary.BigEndian.AppendUint64(nil, uint64(c.Version)))
		} else {
			d, err := x.toDoc(c.Movie)
			if err != nil {
				return 0, err
			}
			rows[id] = rowOf(c.Movie)
			if err := b.Index(key, d); err != nil {
				return 0, fmt.Errorf("apply movie %d: %w", id, err)
			}
			if deleted { // a newer version brings a deleted movie back; its version now lives in the document
				b.DeleteInternal(tombstoneKey(id))
			}
		}
		applied++
	}
	have, err := x.Checkpoint()
	if err != nil {
		return 0, err
	}
	if checkpoint > have {
		b.SetInternal(checkpointKey, binary.BigEndian.AppendUint64(nil, checkpoint))
	}
	if b.Size() == 0 {
		return 0, nil // durable once the batches before it are
	}
	b.SetPersistedCallback(x.durable.next(max(checkpoint, have)))
	if err := x.bi.Batch(b); err != nil {
		return 0, fmt.Errorf("apply batch of %d changes: %w", len(changes), err)
	}
	for id, r := range rows {
		x.priors.set(id, r)
	}
	x.counts.commit(delta)
	x.applied.notify()
	return applied, nil
}

// Movie returns the movie with the given id; an apperr.NotFound error if the index does not hold it.
func (x *Index) Movie(ctx context.Context, id int64) (*search.Movie, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src, err := x.source(id)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, apperr.Errorf(apperr.NotFound, "Movie %d not found.", id)
	}
	return decodeSource(src)
}

func decodeSource(src []byte) (*search.Movie, error) {
	var m search.Movie
	if err := json.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("decode stored movie: %w", err)
	}
	for _, l := range []*[]string{&m.Directors, &m.Cast, &m.Genres, &m.Keywords, &m.Tags} {
		if *l == nil {
			*l = []string{} // the contract: lists are never null
		}
	}
	return &m, nil
}
