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
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
	jsonv2 "github.com/go-json-experiment/json"

	"marquee/pkg/apperr"
	"marquee/pkg/genres"
	"marquee/services/search"
)

// boltTimeout bounds the wait for the index's file lock, so a second process on the same folder fails fast
// instead of hanging.
const boltTimeout = "2s"

// Internal keys: the checkpoint, the mapping version, the part of the catalog held (when not all), and one
// tombstone per deleted movie, which is never removed unless a newer version brings the movie back. A live
// movie's version is read from its document, not kept as a key: scorch rewrites every internal key into
// root.bolt on each persisted snapshot, so a key per movie made every batch cost in proportion to the
// catalog (60% of ingest CPU at 100k movies, 15 KB per movie on disk). Deletes are few, so tombstones stay
// cheap.
var (
	checkpointKey     = []byte("checkpoint")
	mappingVersionKey = []byte("mapping_version")
	contentsKey       = []byte("contents") // Options.Contents
)

func tombstoneKey(id int64) []byte { return []byte("t/" + strconv.FormatInt(id, 10)) }

var _ search.Searcher = (*Index)(nil)

// Index is the on-disk search index. It is safe for concurrent use; Apply calls are serialised.
type Index struct {
	path      string        // the index's folder
	paths     []string      // each shard's folder: path itself for one shard
	shards    []bleve.Index // the movies, by id modulo len(shards) (see Options.Shards)
	bi        bleve.Index   // searches every shard: the one shard itself, or an alias of them all
	mapping   mapping.IndexMapping
	rank      Ranking
	opts      Options
	counts    *facetCounts   // browse facets of the whole catalog, kept by Apply; nil until built
	priors    *priors        // every movie's ranking inputs, kept by Apply
	segCaches *segmentCaches // what searches keep of each segment (priors, facet bitmaps, expansions)
	cache     *resultCache   // answers by query, with their checkpoint; nil for none
	admission *admission     // searches running at once, and waiting (Options.SearchConcurrency, SearchQueue)
	applyMu   sync.Mutex     // makes Apply's read-compare-write of versions and checkpoint atomic
	applied   notifier       // wakes readers waiting for a version after each applied batch
	durable   durability     // how far the index is on disk
	closeOnce sync.Once      // Bleve's scorch panics on a second Close
	closeErr  error

	lastChange atomic.Int64 // when Apply last changed a movie, in Unix nanoseconds (see LastChange)

	peers     atomic.Pointer[peerBox] // the catalog's other shards (SetPeers); nil: x holds the whole catalog
	answering *admission              // the peers' questions being answered, and waiting (Answer)

	afterBatch func() // for tests: runs once a shard's batch is searchable, before Apply returns
}

// Options tune an index.
type Options struct {
	Ranking Ranking // how relevance is scored; the zero value means DefaultRanking
	Scratch bool    // a throwaway index (evaluation, benchmarks): Close does not wait for the disk

	// ExactFacets counts every facet over every match on each search, as if the catalog were small: no
	// maintained counts for the whole catalog and no sampling of large result sets. Benchmarks compare.
	ExactFacets bool
	// FacetSampleAbove is the number of matches above which the facets counted by walking the matches
	// (people; any facet where the executor does not count) are counted on a sample of them and marked
	// approximate; 0 means DefaultFacetSampleAbove.
	FacetSampleAbove int
	// CacheBytes bounds the cache of search answers (by normalized query, each with the checkpoint it was
	// computed at); 0 means no cache.
	CacheBytes int64
	// CacheMaxAge is how long a cached answer may still be served once the index has applied a change,
	// counted from when it was last known to be the index's answer (the staleness bound): at peak a write
	// moves the checkpoint every few milliseconds, and an answer kept only while the checkpoint stands is
	// rarely asked again. 0 serves an answer only while the index holds exactly what it was computed from.
	// A read that must see a write sets search.Query.MinIndexVersion and gets no older answer.
	CacheMaxAge time.Duration
	// Now is the result cache's clock; nil means time.Now. Tests and the cache replay set it.
	Now func() time.Time
	// Shards splits the index into that many Bleve indexes (movie id modulo Shards), written in parallel
	// and searched in parallel through an alias; 0 means 1. An index on disk with another number of shards
	// is removed and rebuilt from the stream, like one of another mapping version.
	Shards int
	// mergePlan overrides fields of Bleve's merge policy (mergeplan.MergePlanOptions, by field name); tests
	// keep segments as written with it.
	mergePlan map[string]any
	// BleveExecutor answers every search with Bleve's own searchers instead of the executor (exec.go): the
	// exhaustive reference that the tests compare the executor with (on one shard: see referenceOf).
	BleveExecutor bool
	// Genres is the vocabulary a genre filter is read with ("sci-fi" is Science Fiction, as the catalog
	// stores it); nil means genres.Default().
	Genres *genres.Vocabulary
	// SearchConcurrency is how many searches (and suggestions) run at once; the others wait their turn,
	// first come first served (see admission.go). A shard's search waiting for its peers does not run.
	// Answers from the cache do not wait. 0 means GOMAXPROCS.
	SearchConcurrency int
	// SearchQueue is how many searches may wait for a slot (or, of a shard, for their peers) beyond those
	// running; one more is refused at once with an Unavailable error (503). 0 means 16 a slot.
	SearchQueue int
	// Contents names the part of the catalog the index holds: "" for every movie, or e.g. the partition of
	// the stream it is fed from. An index on disk that holds another part is removed and rebuilt from the
	// stream, like one of another mapping version.
	Contents string
}

// MaxShards bounds Options.Shards.
const MaxShards = 64

// Open opens the index in the folder path with the default options; see OpenWith.
func Open(path string) (*Index, error) { return OpenWith(path, Options{}) }

// OpenWith opens the index in the folder path, creating it (and the folder) if it does not exist. An index
// written by another mapping version, or split into another number of shards, is removed and created anew:
// its checkpoint starts at 0, so the indexer rebuilds it from the stream.
func OpenWith(path string, opts Options) (*Index, error) {
	if opts.Ranking == (Ranking{}) {
		opts.Ranking = DefaultRanking()
	}
	if opts.Genres == nil {
		opts.Genres = genres.Default()
	}
	if err := opts.Ranking.Validate(); err != nil {
		return nil, err
	}
	if opts.Shards == 0 {
		opts.Shards = 1
	}
	if opts.Shards < 1 || opts.Shards > MaxShards {
		return nil, fmt.Errorf("open search index %s: %d shards, want 1 to %d", path, opts.Shards, MaxShards)
	}
	if opts.SearchConcurrency < 0 {
		return nil, fmt.Errorf("open search index %s: search concurrency %d, want 0 or more", path, opts.SearchConcurrency)
	}
	if opts.CacheMaxAge < 0 {
		return nil, fmt.Errorf("open search index %s: cache max age %v, want 0 or more", path, opts.CacheMaxAge)
	}
	if opts.SearchQueue < 0 {
		return nil, fmt.Errorf("open search index %s: search queue %d, want 0 or more", path, opts.SearchQueue)
	}
	paths, err := shardPaths(path, opts.Shards)
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	x := &Index{path: path, paths: paths, rank: opts.Ranking, opts: opts, admission: newAdmission(opts.SearchConcurrency, opts.SearchQueue),
		answering: newAdmission(opts.SearchConcurrency, 0), segCaches: newSegmentCaches()}
	x.lastChange.Store(time.Now().UnixNano())
	for _, p := range paths {
		bi, err := openShard(p, opts.Contents, opts.mergePlan)
		if err != nil {
			_ = x.closeShards()
			return nil, err
		}
		x.shards = append(x.shards, bi)
	}
	x.bi, x.mapping = x.shards[0], x.shards[0].Mapping()
	if len(x.shards) > 1 {
		alias := bleve.NewIndexAlias(x.shards...)
		if err := alias.SetIndexMapping(x.mapping); err != nil {
			_ = x.closeShards()
			return nil, fmt.Errorf("open search index %s: %w", path, err)
		}
		x.bi = alias
	}
	if x.durable.seq, err = x.Checkpoint(); err != nil {
		_ = x.closeShards()
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	if err := x.buildPriors(context.Background()); err != nil {
		_ = x.closeShards()
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	if !opts.ExactFacets {
		if err := x.buildFacetCounts(context.Background()); err != nil {
			_ = x.closeShards()
			return nil, fmt.Errorf("open search index %s: %w", path, err)
		}
	}
	if opts.CacheBytes > 0 {
		if opts.Now == nil {
			opts.Now = time.Now
		}
		x.cache = newResultCache(opts.CacheBytes, opts.CacheMaxAge, opts.Now)
	}
	return x, nil
}

// shardPaths are the folders of an index of n shards under path: path itself for one, path/shard-i-of-n
// for more. Whatever else path holds (an index split another way) is removed.
func shardPaths(path string, n int) ([]string, error) {
	if n == 1 {
		if _, err := os.Stat(filepath.Join(path, "index_meta.json")); err != nil {
			if entries, _ := os.ReadDir(path); len(entries) > 0 { // shards, not an index
				if err := os.RemoveAll(path); err != nil {
					return nil, fmt.Errorf("remove index of another shape: %w", err)
				}
			}
		}
		return []string{path}, nil
	}
	paths := make([]string, n)
	want := map[string]bool{}
	for i := range paths {
		name := shardName(i, n)
		paths[i], want[name] = filepath.Join(path, name), true
	}
	entries, err := os.ReadDir(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if !want[e.Name()] {
			if err := os.RemoveAll(path); err != nil {
				return nil, fmt.Errorf("remove index of another shape: %w", err)
			}
			break
		}
	}
	return paths, nil
}

func shardName(i, n int) string { return fmt.Sprintf("shard-%d-of-%d", i, n) }

// openShard opens (or creates) one Bleve index of the current mapping version, holding contents, at path.
func openShard(path, contents string, mergePlan map[string]any) (bleve.Index, error) {
	// Batch returns once the batch is searchable; each batch's persisted callback says when it is on disk.
	cfg := map[string]any{"bolt_timeout": boltTimeout, "unsafe_batch": true}
	if mergePlan != nil {
		cfg["scorchMergePlanOptions"] = mergePlan
	}
	bi, err := bleve.OpenUsing(path, cfg)
	if err == nil {
		v, verr := bi.GetInternal(mappingVersionKey)
		c, kerr := bi.GetInternal(contentsKey)
		if verr != nil || string(v) != mappingVersion || kerr != nil || string(c) != contents {
			// An index of an older shape: its fields and analyzers are not the ones the queries use. Or of
			// other movies: a search answers for the ones it is configured to hold.
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
			err = bi.SetInternal(mappingVersionKey, []byte(mappingVersion))
			if err == nil && contents != "" {
				err = bi.SetInternal(contentsKey, []byte(contents))
			}
			if err != nil {
				_ = bi.Close()
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	return bi, nil
}

// shard is the index holding the movie id.
func (x *Index) shard(id int64) bleve.Index { return x.shards[id%int64(len(x.shards))] }

// Close waits (up to closeWait; not for a Scratch index) until every applied batch is on disk, then
// closes the index and releases its lock. Call it after the last Apply returned. Closing twice is harmless.
func (x *Index) Close() error {
	x.closeOnce.Do(func() {
		if !x.opts.Scratch {
			ctx, cancel := context.WithTimeout(context.Background(), closeWait)
			defer cancel()
			_ = x.WaitDurable(ctx, x.Written()) // past the wait, a reopen replays the rest from the stream
		}
		x.closeErr = x.closeShards()
	})
	return x.closeErr
}

func (x *Index) closeShards() error {
	var errs []error
	for _, bi := range x.shards {
		if err := bi.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close search index: %w", err)
	}
	return nil
}

// Checkpoint returns the last stream sequence applied to the index, 0 for a new index. Each shard keeps its
// own; the index's is the least of them (a shard may have written a batch its siblings had not when the
// process stopped): from there, a replay brings every shard up to date.
func (x *Index) Checkpoint() (uint64, error) {
	least := uint64(math.MaxUint64)
	for _, bi := range x.shards {
		cp, err := shardCheckpoint(bi)
		if err != nil {
			return 0, err
		}
		least = min(least, cp)
	}
	return least, nil
}

// internalReader is what holds internal keys: a shard, or a snapshot of one being copied.
type internalReader interface {
	GetInternal(key []byte) ([]byte, error)
}

// shardCheckpoint is the checkpoint a shard, or a copy of one, holds.
func shardCheckpoint(bi internalReader) (uint64, error) {
	b, err := bi.GetInternal(checkpointKey)
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
	b, err := x.shard(id).GetInternal(tombstoneKey(id))
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
	doc, err := x.shard(id).Document(strconv.FormatInt(id, 10))
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

// decodeSource decodes a movie's stored JSON, which the index wrote itself (so exact field names, one of
// each, valid UTF-8): every hit of a search is one, and encoding/json v2 decodes it in half the time of v1.
func decodeSource(src []byte) (*search.Movie, error) {
	var m search.Movie
	if err := jsonv2.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("decode stored movie: %w", err)
	}
	for _, l := range []*[]string{&m.Directors, &m.Cast, &m.Genres, &m.Keywords, &m.Tags} {
		if *l == nil {
			*l = []string{} // the contract: lists are never null
		}
	}
	return &m, nil
}

// query runs a Bleve search over every shard. An alias reports a shard's failure in the result's status,
// not as an error, and merges what the other shards found: here that failure is the search's error, since
// an answer without a shard's movies would look complete and be wrong.
func (x *Index) query(ctx context.Context, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	sr, err := x.bi.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	if sr.Status != nil && sr.Status.Failed > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		errs := make([]error, 0, len(sr.Status.Errors))
		for _, e := range sr.Status.Errors {
			errs = append(errs, e)
		}
		return nil, fmt.Errorf("%d of %d shards failed: %w", sr.Status.Failed, len(x.shards), errors.Join(errs...))
	}
	return sr, nil
}
