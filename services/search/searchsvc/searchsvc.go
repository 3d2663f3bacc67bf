// Package searchsvc wires the search service: it opens the index, declares the stream, and puts the
// indexer and the HTTP API together. The split-mode binary (cmd/search), the all-in-one binary and the
// end-to-end tests all build the service through New.
package searchsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/genres"
	"marquee/pkg/httpx"
	"marquee/pkg/natsx"
	"marquee/services/search"
	"marquee/services/search/indexer"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
)

// Config is the search service's configuration (see pkg/config for how it is loaded).
type Config struct {
	Addr              string `key:"addr" usage:"HTTP listen address"`
	NATSURL           string `key:"nats_url" usage:"NATS server URL, or several separated by commas (the nodes of a cluster)"`
	NATSUser          string `key:"nats_user" usage:"NATS user search connects as (deploy/nats/auth.conf: search, which may read the stream but not publish a movie's change); empty: none"`
	NATSPassword      string `key:"nats_password" secret:"true" usage:"password of nats_user"`
	DataDir           string `key:"data_dir" usage:"data folder; the index lives in <data_dir>/index"`
	Stream            string `key:"stream" usage:"JetStream stream of movie changes"`
	SubjectPrefix     string `key:"subject_prefix" usage:"subject prefix of the stream (subjects <prefix>.movie.<id>, or <prefix>.movie.<partition>.<id> in a partitioned stream)"`
	StreamPartitions  int    `key:"stream_partitions" usage:"partitions the stream keeps movies in: the catalog's stream_partitions (at most 1024); 0 or 1: none"`
	Partition         int    `key:"partition" usage:"of a partitioned stream, the one partition (0 to stream_partitions-1) whose movies this service indexes and answers for, as one shard of the catalog; -1: every movie"`
	Peers             string `key:"peers" usage:"of a shard (partition set), the base URLs of the search services of every other partition, separated by commas (each may be a load balancer of that partition's replicas): a search asks them, with internal_token, what the whole catalog holds, so that this shard ranks and counts as one index of every movie would; empty: by its own movies alone"`
	LogLevel          string `key:"log_level" usage:"log level: debug, info, warn or error"`
	CacheBytes        int64  `key:"cache_bytes" usage:"memory for cached search answers (by query, each with the index checkpoint it was computed at), in bytes; 0 turns the cache off"`
	IndexShards       int    `key:"index_shards" usage:"split the index into this many shards, written and searched in parallel; a change rebuilds the index from the stream"`
	SearchConcurrency int    `key:"search_concurrency" usage:"searches run at once (a shard's search waiting for its peers does not run), the others wait their turn (first come, first served); 0 means one per core"`
	SearchQueue       int    `key:"search_queue" usage:"searches that may wait for their turn (or, of a shard, for their peers) beyond those running; one more is refused at once with 503 and Retry-After; 0 means 16 per search_concurrency"`
	GenreSynonyms     string `key:"genre_synonyms" usage:"genre synonyms beyond the built-in ones, as from=to pairs separated by commas (e.g. Kids=Family): a genre filter is read with them, as the catalog stores genres; set it as the catalog's"`

	ConsistencyWait time.Duration `key:"consistency_wait" usage:"longest a read with min_version waits for the index to hold that version (10ms to 8s)"`
	DegradedLag     int           `key:"degraded_lag" usage:"stream sequences the index may lag before /readyz reports it degraded (it stays ready and serves reads, each answer saying how current it is)"`
	InternalToken   string        `key:"internal_token" secret:"true" usage:"secret (32 bytes or more) the services of a split deployment share: the index's endpoints (rebuild, versions, snapshot) answer only requests that carry it, and bootstrap_from asks with it; empty: anyone who reaches the service"`
	CursorKey       string        `key:"cursor_key" secret:"true" usage:"secret (32 bytes or more) that signs search cursors; empty: a random one that every search service on the same NATS shares (kept in JetStream)"`
	BootstrapFrom   string        `key:"bootstrap_from" usage:"URL of a peer search service (e.g. http://search:8082) a new replica copies its index from, then replays only the stream after that copy's checkpoint; it asks with internal_token. Empty, or no peer answering: replay the whole stream"`
	CacheMaxAge     time.Duration `key:"cache_max_age" usage:"staleness bound of cached search answers: after the index changes, an answer that was its answer this long ago or less may still be served, saying which index version it is of (a read with min_version never gets one older than its write); the public reads tell shared caches (a CDN) to keep answers as long (Cache-Control s-maxage). 0: only answers of the index as it is, and shared caches revalidate every time (whole seconds, 0 to 10m)"`
	CompactAfter    time.Duration `key:"compact_after" usage:"merge the index's segments into one or two a shard once no change has come for this long (fewer segments make every search cheaper); 0 never"`

	// Rank is the ranking (the defaults are tuned against the relevance judgments).
	Rank Ranking `prefix:"rank_"`
}

// Ranking is searchindex.Ranking with the keys and meanings of its settings: the two convert into each
// other, so a field added to one and not the other fails to compile.
type Ranking struct {
	Title     float64 `key:"title" usage:"ranking: boost of a word in the title"`
	Directors float64 `key:"directors" usage:"ranking: boost of a word in a director's name"`
	Cast      float64 `key:"cast" usage:"ranking: boost of a word in a cast member's name"`
	Genres    float64 `key:"genres" usage:"ranking: boost of a word in the genres"`
	Keywords  float64 `key:"keywords" usage:"ranking: boost of a word in the plot keywords"`
	Tags      float64 `key:"tags" usage:"ranking: boost of a word in the user tags"`
	Tagline   float64 `key:"tagline" usage:"ranking: boost of a word in the tagline"`
	Overview  float64 `key:"overview" usage:"ranking: boost of a word in the overview"`

	TitleExact   float64 `key:"title_exact" usage:"ranking: boost when the query is the whole title"`
	TitlePhrase  float64 `key:"title_phrase" usage:"ranking: boost when the query words are a phrase of the title"`
	PersonPhrase float64 `key:"person_phrase" usage:"ranking: boost when the query words are a phrase of a person's name"`
	ValueExact   float64 `key:"value_exact" usage:"ranking: boost when the query is a whole genre or a person's whole name"`

	Prefix float64 `key:"prefix" usage:"ranking: weight of a prefix match of the last word (exact = 1)"`
	Typo   float64 `key:"typo" usage:"ranking: weight of a typo match (exact = 1)"`

	VotesWeight    float64 `key:"votes_weight" usage:"ranking: popularity prior, how much log(votes) may multiply a score by (1 + w)"`
	VotesSaturate  float64 `key:"votes_saturate" usage:"ranking: vote count at which the popularity prior is full"`
	RatingWeight   float64 `key:"rating_weight" usage:"ranking: rating prior, how much the rating may move a score (± w)"`
	RatingMinVotes float64 `key:"rating_min_votes" usage:"ranking: vote count at which a rating is fully trusted"`

	WeightedRatingMinVotes float64 `key:"weighted_rating_min_votes" usage:"sort=rating orders by a weighted rating: the votes a rating needs to count as much as the catalog's mean rating (IMDb's m)"`

	TypoBelow       int `key:"typo_below" usage:"ranking: with fewer movies matching every word exactly, add those matching with typos"`
	RelaxBelow      int `key:"relax_below" usage:"ranking: with fewer movies matching every word, add those matching some"`
	DidYouMeanBelow int `key:"did_you_mean_below" usage:"ranking: with fewer exact matches, look for a corrected query"`

	TopicMin        int     `key:"topic_min" usage:"ranking: a query whose words are in the genres, keywords or tags of at least this many movies names a topic, whose movies come first (0: never)"`
	TopicPopularity float64 `key:"topic_popularity" usage:"ranking: among a topic's movies, the prior (popularity and rating) is raised to this power"`
}

// DefaultConfig returns the configuration of a search service on one machine next to a local NATS server.
func DefaultConfig() Config {
	return Config{
		Addr:          "127.0.0.1:8082",
		NATSURL:       "nats://127.0.0.1:4222",
		DataDir:       "./var/search",
		Stream:        events.DefaultStream.Name,
		SubjectPrefix: events.DefaultStream.Prefix,
		Partition:     events.AllPartitions,
		LogLevel:      "info",
		// A replica's 5 s of distinct answers at the planned peak (performance.md, "Result cache under writes").
		CacheBytes:  16 << 20,
		IndexShards: 1,

		ConsistencyWait: 2 * time.Second,
		DegradedLag:     1000,
		CompactAfter:    2 * time.Second,
		CacheMaxAge:     5 * time.Second,

		Rank: Ranking(searchindex.DefaultRanking()),
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var problems []string
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("addr %q: %v", c.Addr, err))
	}
	if _, err := genres.Parse(c.GenreSynonyms); err != nil {
		problems = append(problems, "genre_synonyms: "+err.Error())
	}
	if strings.TrimSpace(c.NATSURL) == "" {
		problems = append(problems, "nats_url is required")
	}
	if strings.TrimSpace(c.DataDir) == "" {
		problems = append(problems, "data_dir is required")
	}
	if c.Stream == "" || strings.ContainsAny(c.Stream, ".*> \t") {
		problems = append(problems, fmt.Sprintf("stream %q must be a non-empty name without '.', '*', '>' or spaces", c.Stream))
	}
	if c.SubjectPrefix == "" || strings.ContainsAny(c.SubjectPrefix, "*> \t") || strings.HasPrefix(c.SubjectPrefix, ".") || strings.HasSuffix(c.SubjectPrefix, ".") {
		problems = append(problems, fmt.Sprintf("subject_prefix %q must be a subject without wildcards, spaces or leading/trailing '.'", c.SubjectPrefix))
	}
	if c.StreamPartitions < 0 || c.StreamPartitions > events.MaxPartitions {
		problems = append(problems, fmt.Sprintf("stream_partitions must be 0 to %d", events.MaxPartitions))
	} else if !c.EventStream().HasPartition(c.Partition) {
		problems = append(problems, fmt.Sprintf("partition must be -1 (every movie) or 0 to stream_partitions-1 (%d)", max(1, c.StreamPartitions)-1))
	}
	if c.Peers != "" {
		urls := c.peerURLs()
		if !c.OnePartition() {
			problems = append(problems, "peers needs partition: a service of every movie has no other shards")
		} else if len(urls) != c.StreamPartitions-1 {
			problems = append(problems, fmt.Sprintf("peers names %d services, want one for each other partition (%d)", len(urls), c.StreamPartitions-1))
		}
		for _, u := range urls {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				problems = append(problems, fmt.Sprintf("peer %q must be the http(s) URL of a search service", u))
			}
		}
	}
	// A split gateway gives up on a search that has not answered within 10 s (gateway.SearchTimeout).
	if c.ConsistencyWait < 10*time.Millisecond || c.ConsistencyWait > 8*time.Second {
		problems = append(problems, "consistency_wait must be between 10ms and 8s (a gateway gives up on a search after 10s)")
	}
	if c.IndexShards < 1 || c.IndexShards > searchindex.MaxShards {
		problems = append(problems, fmt.Sprintf("index_shards must be between 1 and %d", searchindex.MaxShards))
	}
	if c.NATSPassword != "" && c.NATSUser == "" {
		problems = append(problems, "nats_password needs nats_user")
	}
	if c.SearchQueue < 0 {
		problems = append(problems, "search_queue must be 0 (16 per search_concurrency) or more")
	}
	if c.SearchConcurrency < 0 {
		problems = append(problems, "search_concurrency must be 0 (one per core) or more")
	}
	if c.CacheMaxAge < 0 || c.CacheMaxAge > 10*time.Minute || c.CacheMaxAge%time.Second != 0 {
		// Whole seconds, as Cache-Control counts them: the s-maxage shared caches are told is the same bound.
		problems = append(problems, "cache_max_age must be whole seconds between 0 (no stale answers) and 10m")
	}
	if c.CompactAfter < 0 {
		problems = append(problems, "compact_after must be 0 (never) or more")
	}
	if c.DegradedLag < 1 {
		problems = append(problems, "degraded_lag must be at least 1")
	}
	if c.InternalToken != "" && len(c.InternalToken) < httpx.MinInternalToken {
		problems = append(problems, fmt.Sprintf("internal_token must be at least %d bytes", httpx.MinInternalToken))
	}
	if c.BootstrapFrom != "" {
		if u, err := url.Parse(c.BootstrapFrom); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("bootstrap_from %q must be the http(s) URL of a search service", c.BootstrapFrom))
		}
	}
	if c.CursorKey != "" && len(c.CursorKey) < 32 {
		problems = append(problems, "cursor_key must be at least 32 bytes")
	}
	if err := searchindex.Ranking(c.Rank).Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// IndexPath is the folder of the index.
func (c *Config) IndexPath() string { return filepath.Join(c.DataDir, "index") }

// OnePartition reports whether the service holds one partition of the stream: it is a shard.
func (c *Config) OnePartition() bool {
	return c.EventStream().Partitioned() && c.Partition != events.AllPartitions
}

// holds reports whether movie id is one the service indexes; nil: every movie.
func (c *Config) holds() func(id int64) bool {
	if !c.OnePartition() {
		return nil
	}
	s, p := c.EventStream(), c.Partition
	return func(id int64) bool { return s.Partition(id) == p }
}

// partitionsHeld is the stream's partitions if the service holds one of them, else 0.
func (c *Config) partitionsHeld() int {
	if !c.OnePartition() {
		return 0
	}
	return c.StreamPartitions
}

// contents names what the index holds (searchindex.Options.Contents): an index of another partition, or of
// a stream partitioned otherwise, is rebuilt.
func (c *Config) contents() string {
	switch s := c.EventStream(); {
	case !s.Partitioned():
		return ""
	case c.Partition == events.AllPartitions:
		return fmt.Sprintf("every partition of %d", s.Partitions)
	default:
		return fmt.Sprintf("partition %d of %d", c.Partition, s.Partitions)
	}
}

// joinPeers makes idx a shard that asks the configured peers (none: it holds the whole catalog).
func (c *Config) joinPeers(idx *searchindex.Index) error {
	if urls := c.peerURLs(); len(urls) > 0 {
		return idx.SetPeers(newHTTPPeers(urls, c.InternalToken, c.contents()))
	}
	return nil
}

// answer answers another shard's question (POST /v1/index/peer) once the index has caught up with its
// partition: before, its counts would be a part of its movies.
func (s *Service) answer(ctx context.Context, q searchindex.PeerQuestion) (searchindex.PeerAnswer, error) {
	if err := s.Ready(ctx); err != nil {
		return searchindex.PeerAnswer{}, apperr.Wrap(err, apperr.Unavailable, "This shard has not caught up with its partition yet.")
	}
	return s.live.answer(ctx, q)
}

// answerOf is the answer to other shards' questions of a service that holds one partition; nil for one of
// every movie, which is no shard.
func (s *Service) answerOf() func(context.Context, searchindex.PeerQuestion) (searchindex.PeerAnswer, error) {
	if !s.cfg.OnePartition() {
		return nil
	}
	return s.answer
}

// indexerOptions are those of the live index's indexer.
func (s *Service) indexerOptions() indexer.Options {
	return indexer.Options{Metrics: s.ixMetrics, Partition: s.cfg.Partition}
}

// EventStream is the stream the indexer consumes.
func (c *Config) EventStream() events.Stream {
	return events.Stream{Name: c.Stream, Prefix: c.SubjectPrefix, Partitions: c.StreamPartitions}
}

// Deps are the handles the service runs on; the caller owns them (and drains the NATS connection after Close).
type Deps struct {
	Log *slog.Logger
	JS  jetstream.JetStream
	// Registry holds the service's metrics; nil: a registry of its own. GET /metrics serves it.
	Registry *prometheus.Registry
}

// Service is a running search service: an index, the indexer that feeds it, and the HTTP API over it.
type Service struct {
	log       *slog.Logger
	cfg       Config
	js        jetstream.JetStream
	nc        *nats.Conn
	stream    events.Stream
	indexOpts searchindex.Options
	ixMetrics *indexer.Metrics
	live      *liveIndex
	handler   http.Handler
	resume    chan struct{} // a rebuild tells Run to go on with the (new or old) indexer
	rebuilds  sync.WaitGroup
	snapshots sync.WaitGroup // snapshots being sent, which Close ends and waits for
	closed    chan struct{}  // closed by Close: no new snapshot

	mu           sync.Mutex // guards the fields below
	indexer      *indexer.Indexer
	path         string
	runCtx       context.Context
	stopIndexer  context.CancelFunc
	indexerDone  chan struct{}
	rebuild      search.RebuildStatus
	snapshotting bool      // a snapshot is being sent: no rebuild may swap the index away meanwhile
	readyOnce    bool      // caught up with the stream once since start: ready from then on
	lostNATS     time.Time // when NATS was first seen disconnected; zero while connected
}

// New opens (or creates) the index and makes sure the stream exists, so a search replica can start before
// the catalog. The indexer does not run until Run.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid search config: %w", err)
	}
	if deps.Log == nil || deps.JS == nil {
		return nil, errors.New("searchsvc: Deps.Log and Deps.JS are required")
	}
	stream := cfg.EventStream()
	// The catalog owns the stream and decides its settings; search only makes sure it exists. What search
	// keeps beside it (dead letters, the cursor key) gets as many replicas.
	st, err := natsx.OpenStream(ctx, deps.JS, stream)
	if err != nil {
		return nil, err
	}
	replicas := st.CachedInfo().Config.Replicas
	if err := natsx.EnsureDeadLetterStream(ctx, deps.JS, stream, replicas); err != nil {
		return nil, err
	}
	vocab, err := genres.Parse(cfg.GenreSynonyms)
	if err != nil {
		return nil, fmt.Errorf("search config: genre_synonyms: %w", err)
	}
	opts := searchindex.Options{Ranking: searchindex.Ranking(cfg.Rank), CacheBytes: cfg.CacheBytes, CacheMaxAge: cfg.CacheMaxAge, Shards: cfg.IndexShards, Genres: vocab,
		SearchConcurrency: cfg.SearchConcurrency, SearchQueue: cfg.SearchQueue, Contents: cfg.contents()}
	path := livePath(deps.Log, cfg.DataDir)
	idx, err := searchindex.OpenWith(path, opts)
	if err != nil {
		return nil, err
	}
	if cp, err := idx.Checkpoint(); err == nil && cp == 0 && cfg.BootstrapFrom != "" {
		idx, path = bootstrap(ctx, deps.Log, cfg, opts, idx, path)
	}
	if err := cfg.joinPeers(idx); err != nil {
		_ = idx.Close()
		return nil, err
	}
	if deps.Registry == nil {
		deps.Registry = httpx.NewRegistry()
	}
	s := &Service{
		log: deps.Log, cfg: cfg, js: deps.JS, nc: deps.JS.Conn(), stream: stream, indexOpts: opts,
		ixMetrics: indexer.NewMetrics(deps.Registry), live: &liveIndex{idx: idx, holds: cfg.holds()}, resume: make(chan struct{}), closed: make(chan struct{}),
		path: path, rebuild: search.RebuildStatus{State: search.RebuildIdle},
	}
	cursorKey, err := sharedCursorKey(ctx, deps.JS, stream.Name, cfg.CursorKey, replicas)
	if err != nil {
		_ = idx.Close()
		return nil, err
	}
	s.indexer = indexer.NewWith(deps.Log, deps.JS, stream, idx, s.indexerOptions())
	s.registerMetrics(deps.Registry)
	s.handler = searchapi.NewHandlerWith(deps.Log, s.live, searchapi.Deps{
		Ready:         s.Ready,
		Degraded:      s.Degraded,
		Status:        s.indexStatus,
		Wait:          s.live.wait,
		MaxWait:       cfg.ConsistencyWait,
		CacheMaxAge:   cfg.CacheMaxAge,
		Versions:      s.live.versions,
		Partition:     cfg.Partition,
		Partitions:    cfg.partitionsHeld(),
		Contents:      cfg.contents(),
		Answer:        s.answerOf(),
		Rebuild:       s.StartRebuild,
		RebuildStatus: s.Rebuild,
		Snapshot:      s.sendSnapshot,
		HTTPMetrics:   httpx.NewMetrics(deps.Registry),
		Metrics:       httpx.MetricsHandler(deps.Registry),
		CursorKey:     cursorKey,
		InternalToken: cfg.InternalToken,
	})
	return s, nil
}

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler { return s.handler }

// Run runs the indexer until ctx is done; it finishes (or abandons, unacknowledged) its batch, and waits for
// a running rebuild to stop. A rebuild's swap stops the indexer and Run goes on with the new one.
func (s *Service) Run(ctx context.Context) error {
	defer s.rebuilds.Wait()
	var compactor sync.WaitGroup // done before Run returns: Close follows Run
	defer compactor.Wait()
	compactor.Go(func() { s.compactWhenIdle(ctx) })
	for {
		s.mu.Lock()
		s.runCtx = ctx // set with stopIndexer, so that a rebuild always finds both
		ix := s.indexer
		ictx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		s.stopIndexer, s.indexerDone = stop, done
		s.mu.Unlock()
		err := ix.Run(ictx)
		stop()
		close(done)
		if ctx.Err() != nil {
			return err
		}
		select { // stopped by a rebuild: go on once it has swapped (or given up)
		case <-s.resume:
		case <-ctx.Done():
			return nil
		}
	}
}

// Ready returns nil once the index has caught up with the stream since the process started, else an
// apperr.Unavailable error that says how far behind it is.
//
// It then stays ready: a replica that falls behind (a big import) or loses NATS still serves reads, each
// answer saying how current it is, and Degraded says why. Readiness that followed the lag or NATS took
// every replica out of service at once, on the same import or the same NATS restart, and with them the
// gateways that wait for a ready replica: nothing was left to read from.
func (s *Service) Ready(ctx context.Context) error {
	s.mu.Lock()
	once := s.readyOnce
	s.mu.Unlock()
	if once {
		return nil
	}
	ok, lag, err := s.currentIndexer().CaughtUp(ctx)
	if err != nil {
		s.log.Warn("readiness check failed", "err", err)
		return apperr.Errorf(apperr.Unavailable, "The search index cannot tell whether it is current.")
	}
	if !ok {
		return apperr.Errorf(apperr.Unavailable, "The search index is catching up: %d events behind.", lag)
	}
	s.mu.Lock()
	s.readyOnce = true
	s.mu.Unlock()
	return nil
}

// Degraded says what a ready replica lacks, or "": a connection to NATS lost for more than natsGrace (the
// index falls behind the writes), a lag over DegradedLag.
func (s *Service) Degraded(ctx context.Context) string {
	var why []string
	s.mu.Lock()
	if s.nc != nil && !s.nc.IsConnected() {
		if s.lostNATS.IsZero() {
			s.lostNATS = time.Now()
		}
		if time.Since(s.lostNATS) > natsGrace {
			why = append(why, fmt.Sprintf("NATS has been disconnected for %s: the index may fall behind the writes.", time.Since(s.lostNATS).Round(time.Second)))
		}
	} else {
		s.lostNATS = time.Time{}
	}
	s.mu.Unlock()
	// The stream's last sequence, asked with a deadline well inside a readiness probe's: a NATS that is slow
	// to answer (electing a leader) is itself a degraded state, not a reason for the probe to time out.
	ctx, cancel := context.WithTimeout(ctx, degradedLookup)
	defer cancel()
	_, lag, err := s.currentIndexer().CaughtUp(ctx)
	switch {
	case err != nil:
		why = append(why, "The search index cannot tell how far behind the stream it is.")
	case lag > uint64(s.cfg.DegradedLag):
		why = append(why, fmt.Sprintf("The search index is %d events behind.", lag))
	}
	return strings.Join(why, " ")
}

// natsGrace is how long a NATS disconnection lasts before /readyz says the replica is degraded.
const natsGrace = 5 * time.Second

// degradedLookup bounds Degraded's lookup of the stream.
const degradedLookup = 250 * time.Millisecond

func (s *Service) currentIndexer() *indexer.Indexer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.indexer
}

func (s *Service) registerMetrics(reg *prometheus.Registry) {
	httpx.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "marquee_index_lag", Help: "Stream sequences the search index is behind (an upper bound on events).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, lag, _ := s.currentIndexer().CaughtUp(ctx)
		return float64(lag)
	}))
	httpx.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "marquee_index_segments", Help: "Segments of the search index, every shard's (a search pays for each; see compact_after).",
	}, func() float64 {
		x, done := s.live.get()
		defer done()
		segs, _ := x.Segments()
		n := 0
		for _, k := range segs {
			n += k
		}
		return float64(n)
	}))
	for result, count := range map[string]func(searchindex.CacheStats) uint64{
		"hit":   func(st searchindex.CacheStats) uint64 { return st.Hits },
		"stale": func(st searchindex.CacheStats) uint64 { return st.StaleHits },
		"miss":  func(st searchindex.CacheStats) uint64 { return st.Misses },
	} {
		httpx.Register(reg, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "marquee_search_cache_lookups_total", ConstLabels: prometheus.Labels{"result": result},
			Help: "Searches asked of the result cache, by result: hit (an answer of the index as it is), stale (an older answer within cache_max_age) or miss (searched). A rebuild starts them again.",
		}, func() float64 {
			x, done := s.live.get()
			defer done()
			return float64(count(x.CacheStats()))
		}))
	}
	httpx.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "marquee_index_checkpoint", Help: "The stream sequence the search index has applied up to.",
	}, func() float64 {
		ck, _ := s.live.Checkpoint()
		return float64(ck)
	}))
}

// indexStatus says how far the index is behind the stream, for every search answer. If the stream cannot be
// asked, the index does not claim to be current.
func (s *Service) indexStatus(ctx context.Context) search.IndexStatus {
	ck, _ := s.live.Checkpoint()
	ok, lag, err := s.currentIndexer().CaughtUp(ctx)
	if err != nil {
		return search.IndexStatus{Version: ck} // the stream cannot be asked: not known to be current
	}
	return search.IndexStatus{Version: ck, Lag: lag, Current: ok && lag == 0}
}

// Stats returns the indexer's counters.
func (s *Service) Stats() indexer.Stats { return s.currentIndexer().Stats() }

// Close ends the snapshots being sent and closes the index. Call it after Run has returned.
func (s *Service) Close() error {
	s.mu.Lock() // with the check of sendSnapshot: a snapshot begins before Close, or not at all
	if !isClosed(s.closed) {
		close(s.closed)
	}
	s.mu.Unlock()
	s.snapshots.Wait()
	x, done := s.live.get()
	done()
	return x.Close()
}
