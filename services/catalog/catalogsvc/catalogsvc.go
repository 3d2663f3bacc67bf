package catalogsvc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/genres"
	"marquee/pkg/httpx"
	"marquee/pkg/ingest"
	"marquee/pkg/natsx"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogapi"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/outbox"
	"marquee/services/catalog/password"
	"marquee/services/catalog/reconcile"
)

// Deps are the handles the service runs on; the caller opens and closes them.
type Deps struct {
	Log     *slog.Logger
	DB      *sql.DB
	Dialect string // catalogsql.MySQL or catalogsql.SQLite
	JS      jetstream.JetStream
	Stdout  io.Writer // where a generated admin password is announced, once
	// Registry holds the service's metrics; nil: a registry of its own. GET /metrics serves it.
	Registry *prometheus.Registry
	// SearchIndex is a search service's handler whose index the reconciler compares (the all-in-one passes
	// its own); nil: cfg.SearchURL, if set.
	SearchIndex http.Handler
	// Republish is how far back the relay publishes again, when it starts, what it had published: the
	// all-in-one's embedded stream server syncs to disk on an interval (outbox.Options.Republish). 0: the
	// stream's server syncs every write.
	Republish time.Duration
}

// Service is a ready-to-run catalog.
type Service struct {
	log     *slog.Logger
	db      *sql.DB
	store   *catalogsql.Store
	relay   *outbox.Relay
	recon   *reconcile.Reconciler
	js      jetstream.JetStream
	stream  events.Stream
	cfg     Config
	nc      *nats.Conn
	handler http.Handler
	seeded  atomic.Bool
	// catchUp is where the start's comparison of the database with the stream stands (catchUpStream).
	catchUp atomic.Int32
	// catchUpTotal is the movies the database held when a catch-up began: its progress is of that many.
	catchUpTotal atomic.Int64

	mu             sync.Mutex
	backlogAtLoss  int64 // the backlog when NATS was first seen disconnected; -1 while connected
	natsLossLogged bool
}

// New prepares the catalog: it migrates the database, ensures the stream, the signing key and an admin,
// and loads the seed file once per database. It does not start the relay (Run) or serve (Handler).
func New(ctx context.Context, cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("catalog config: %w", err)
	}
	if d.DB == nil || d.JS == nil || d.Stdout == nil {
		return nil, errors.New("catalog: Deps.DB, Deps.JS and Deps.Stdout are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	dialect, err := catalogsql.DialectOf(d.Dialect)
	if err != nil {
		return nil, err
	}
	if err := catalogsql.Migrate(ctx, d.DB, dialect); err != nil {
		return nil, fmt.Errorf("migrate catalog database: %w", err)
	}
	stream := cfg.EventStream()
	if err := ensureStream(ctx, d.Log, d.JS, stream, cfg.StreamReplicas); err != nil {
		return nil, err
	}
	store := catalogsql.New(d.DB, dialect)
	vocab, err := genres.Parse(cfg.GenreSynonyms)
	if err != nil {
		return nil, fmt.Errorf("catalog config: genre_synonyms: %w", err)
	}
	store.UseGenres(vocab)
	if err := ensureSigningKey(ctx, store); err != nil {
		return nil, err
	}
	hasher := password.NewHasher(password.DefaultConcurrency)
	if err := ensureAdmin(ctx, d.Log, cfg, store, hasher, d.Stdout); err != nil {
		return nil, err
	}
	if d.Registry == nil {
		d.Registry = httpx.NewRegistry()
	}
	relay := outbox.NewWith(d.Log, store, d.JS, stream, outbox.Options{
		BatchSize: cfg.OutboxBatchSize, Retention: cfg.OutboxRetention, Republish: d.Republish, Metrics: outbox.NewMetrics(d.Registry),
	})
	var index reconcile.Index
	switch {
	case d.SearchIndex != nil:
		index = &reconcile.HTTPIndex{Handler: d.SearchIndex}
	case cfg.SearchURL != "":
		if index, err = reconcile.NewURLIndex(cfg.SearchURL, cfg.InternalToken); err != nil {
			return nil, err
		}
	}
	s := &Service{log: d.Log, db: d.DB, store: store, relay: relay, js: d.JS, stream: stream, cfg: cfg, nc: d.JS.Conn(), backlogAtLoss: -1}
	s.recon = reconcile.New(d.Log, store, d.JS, stream, index, reconcile.NewMetrics(d.Registry), relay.Kick)
	if err := s.seed(ctx, cfg.Seed); err != nil {
		return nil, err
	}
	s.handler = catalogapi.NewHandler(d.Log, catalogapi.Deps{
		Store:         store,
		Passwords:     hasher,
		TokenTTL:      cfg.TokenTTL,
		RefreshTTL:    cfg.RefreshTTL,
		Ready:         s.Ready,
		Degraded:      s.Degraded,
		InternalToken: cfg.InternalToken,
		Changed:       s.relay.Kick,
		Reconcile:     s.Reconcile,
		HTTPMetrics:   httpx.NewMetrics(d.Registry),
		Metrics:       httpx.MetricsHandler(d.Registry),
	})
	return s, nil
}

// repairWait bounds how long Reconcile waits for the relay to publish the repairs it queued.
const repairWait = 30 * time.Second

// Reconcile compares the database with the stream (and the configured search index) now, republishes what
// differs, and waits (at most 30 s) until the relay has published the repairs.
func (s *Service) Reconcile(ctx context.Context) (reconcile.Report, error) {
	return s.repair(ctx, s.recon.Reconcile)
}

// repair runs a reconciliation and waits (at most 30 s) until the relay has published its repairs.
func (s *Service) repair(ctx context.Context, compare func(context.Context) (reconcile.Report, error)) (reconcile.Report, error) {
	rep, err := compare(ctx)
	if err != nil {
		return rep, err
	}
	deadline := time.Now().Add(repairWait)
	for {
		n, err := s.store.Backlog(ctx)
		if err == nil && n == 0 {
			rep.RepairsPublished = true // published: the stream holds them
			return rep, nil
		}
		if time.Now().After(deadline) {
			return rep, nil
		}
		s.relay.Kick()
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler { return s.handler }

// Run relays the outbox to the stream until ctx is done, republishes at start what the stream lacks of the
// database, prunes expired idempotency keys hourly and reconciles every ReconcileInterval.
func (s *Service) Run(ctx context.Context) error {
	go s.pruneKeys(ctx)
	go s.catchUpStream(ctx)
	go func() {
		if err := s.respellGenres(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("could not store every movie's genres in their canonical spelling; the next start tries again", "err", err)
		}
	}()
	if s.cfg.ReconcileInterval > 0 {
		go s.recon.Run(ctx, s.cfg.ReconcileInterval)
	}
	return s.relay.Run(ctx)
}

// genresActor names the changes respellGenres makes in movies' histories.
const genresActor = "genres"

// metaGenres names the meta row that holds the fingerprint of the vocabulary every stored genre follows.
const metaGenres = "genres_vocabulary"

// respellGenres stores every movie's genres in the vocabulary's spelling, once per vocabulary: a database
// written before the vocabulary (or before a synonym was configured) holds "Sci-Fi" beside "Science
// Fiction", and every write from now on is canonical. Each movie it changes is an ordinary update, with its
// event and history entry, guarded by its version: a movie edited meanwhile was canonicalised by that edit.
func (s *Service) respellGenres(ctx context.Context) error {
	vocab := s.store.Genres()
	want := vocab.Fingerprint()
	if have, ok, err := s.store.Meta(ctx, metaGenres); err != nil || (ok && have == want) {
		return err
	}
	changed := 0
	for after := int64(0); ; {
		ms, err := s.store.Movies(ctx, after, 500)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			after = m.ID
			if slices.Equal(vocab.Canonical(m.Genres), m.Genres) {
				continue
			}
			_, err := s.store.UpdateMovie(ctx, genresActor, m.ID, m.Version, m.Input())
			switch {
			case err == nil:
				changed++
			case apperr.Is(err, apperr.PreconditionFailed) || apperr.Is(err, apperr.NotFound):
			default:
				return err
			}
		}
		s.relay.Kick()
	}
	if changed > 0 {
		s.log.Info("stored every movie's genres in their canonical spelling", "changed", changed)
	}
	return s.store.SetMeta(ctx, metaGenres, want)
}

// Where the start's catch-up stands.
const (
	catchUpPending int32 = iota // not compared yet
	catchUpRunning              // republishing what the stream lacks
	catchUpDone                 // compared, and republished and published if it had to (or stopped)
)

// catchUpStream republishes, once at start, what the stream lacks of the database. A new machine's or a
// lost disk's stream is empty while the database (a managed MySQL, a restored backup) holds the catalog,
// and the relay only publishes new changes: without this, search would stay empty until the periodic
// reconciliation. Counting the stream's subjects against the database's movies costs two queries at any
// size; only when the stream holds fewer does the reconciliation run, comparing movie by movie.
func (s *Service) catchUpStream(ctx context.Context) {
	defer s.catchUp.Store(catchUpDone)
	movies, err := s.store.CountMovies(ctx)
	if err != nil {
		s.log.Warn("could not compare the database with the stream at start; the periodic reconciliation will", "err", err)
		return
	}
	backlog, err := s.store.Backlog(ctx)
	if err != nil {
		s.log.Warn("could not compare the database with the stream at start; the periodic reconciliation will", "err", err)
		return
	}
	st, err := s.js.Stream(ctx, s.stream.Name)
	if err != nil {
		s.log.Warn("could not compare the database with the stream at start; the periodic reconciliation will", "err", err)
		return
	}
	inStream := int64(st.CachedInfo().State.NumSubjects)
	if movies <= inStream+backlog {
		return
	}
	s.catchUpTotal.Store(movies)
	s.catchUp.Store(catchUpRunning)
	s.log.Info("the stream lacks movies the database holds (a new or emptied stream): republishing them",
		"movies", movies, "in_stream", inStream, "pending", backlog)
	// Not ready until it is done: a failure (the stream not up yet) is retried, and the repairs must be
	// published, however long the relay takes. The stream only: search catches up from it, and a search
	// service that is down or still starting (search_url) must not keep the catalog from taking writes.
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		rep, err := s.repair(ctx, s.recon.ReconcileStream)
		if err == nil {
			s.log.Info("republished what the stream lacked", "checked", rep.Checked, "republished", rep.Repaired,
				"published", rep.RepairsPublished, "took_ms", rep.DurationMS)
			s.waitPublished(ctx)
			return
		}
		s.log.Warn("republishing at start failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// waitPublished returns once the outbox holds nothing unpublished, or ctx is done.
func (s *Service) waitPublished(ctx context.Context) {
	for {
		if n, err := s.store.Backlog(ctx); err == nil && n == 0 {
			return
		}
		s.relay.Kick()
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Service) pruneKeys(ctx context.Context) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := s.store.PruneIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("prune idempotency keys", "err", err)
		} else if n > 0 {
			s.log.Info("pruned expired idempotency keys", "keys", n)
		}
		if n, err := s.store.PruneRefreshTokens(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("prune refresh tokens", "err", err)
		} else if n > 0 {
			s.log.Info("pruned expired refresh tokens", "tokens", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Ready reports whether the catalog can take traffic: the database answers, the seed is loaded and the
// relay has published the backlog at least once since start. The error is Unavailable.
func (s *Service) Ready(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.db.PingContext(pingCtx); err != nil {
		s.log.Warn("readiness: database ping failed", "err", err)
		return apperr.Errorf(apperr.Unavailable, "The database does not answer.")
	}
	if !s.seeded.Load() {
		return apperr.Errorf(apperr.Unavailable, "The seed is not loaded yet.")
	}
	switch s.catchUp.Load() {
	case catchUpPending:
		return apperr.Errorf(apperr.Unavailable, "The catalog is comparing its database with the event stream.")
	case catchUpRunning:
		return apperr.Errorf(apperr.Unavailable, "Rebuilding the search index from the database: %d of %d movies compared with the stream and republished as needed.",
			s.recon.Checked(), s.catchUpTotal.Load())
	}
	if !s.relay.Drained() {
		return apperr.Errorf(apperr.Unavailable, "The outbox relay has not yet published the backlog.")
	}
	return nil
}

// Degraded says what a ready catalog lacks, or "": NATS, while the backlog has grown since the connection
// was lost. Writes still commit, into the outbox, and reach search once NATS is back, so the catalog stays
// in service; a short disconnection with nothing to publish does not count. The backlog is counted here,
// not taken from the relay, whose publishes wait out their timeouts while NATS is away.
func (s *Service) Degraded(ctx context.Context) string {
	if s.nc == nil || s.nc.IsConnected() {
		s.mu.Lock()
		s.backlogAtLoss, s.natsLossLogged = -1, false
		s.mu.Unlock()
		return ""
	}
	backlog, err := s.relay.Backlog(ctx)
	if err != nil {
		return "NATS is disconnected, and the outbox cannot be counted."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backlogAtLoss < 0 {
		s.backlogAtLoss = backlog
	}
	if backlog > s.backlogAtLoss {
		if !s.natsLossLogged {
			s.log.Warn("NATS disconnected and the outbox backlog grows", "backlog", backlog)
			s.natsLossLogged = true
		}
		return fmt.Sprintf("NATS is disconnected; %d changes wait in the outbox for search.", backlog)
	}
	return ""
}

// Store is the catalog store, for callers that embed the service (the all-in-one, tests).
func (s *Service) Store() catalog.Store { return s.store }

// Close releases what New acquired. The database and NATS handles belong to the caller, so there is
// nothing to release today; it exists so that callers need not change when there is.
func (s *Service) Close() error { return nil }

// ensureStream declares the stream, retrying for a while: in split mode NATS may start after the catalog. A
// stream partitioned otherwise is not retried: it stays so.
func ensureStream(ctx context.Context, log *slog.Logger, js jetstream.JetStream, stream events.Stream, replicas int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := natsx.EnsureStream(ctx, js, stream, replicas)
		if err == nil {
			return nil
		}
		if errors.Is(err, natsx.ErrPartitions) || time.Now().After(deadline) {
			return err
		}
		log.Warn("JetStream not ready; retrying", "stream", stream.Name, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// ensureSigningKey generates the first signing key.
func ensureSigningKey(ctx context.Context, store catalog.SigningKeyStore) error {
	keys, err := store.SigningKeys(ctx)
	if err != nil || len(keys) > 0 {
		return err
	}
	k, err := catalog.NewSigningKey(time.Now())
	if err != nil {
		return err
	}
	if err := store.AddSigningKey(ctx, k); err != nil && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	return nil
}

// ensureAdmin creates or resets the configured admin, or, when none is configured and none exists,
// creates one with a generated password and announces it once.
func ensureAdmin(ctx context.Context, log *slog.Logger, cfg Config, store catalog.UserStore, h *password.Hasher, stdout io.Writer) error {
	if cfg.AdminUsername != "" && cfg.AdminPassword != "" {
		// An admin already as configured is left alone: a reset would revoke its tokens and keys.
		if u, err := store.UserByName(ctx, cfg.AdminUsername); err == nil && u.Role == catalog.RoleAdmin {
			if ok, err := h.Verify(ctx, cfg.AdminPassword, u.PasswordHash); err == nil && ok {
				return nil
			}
		}
		hash, err := h.Hash(ctx, cfg.AdminPassword)
		if err != nil {
			return err
		}
		if err := store.UpsertUser(ctx, catalog.User{Username: cfg.AdminUsername, Role: catalog.RoleAdmin, PasswordHash: hash}); err != nil {
			return err
		}
		log.Info("admin password set from configuration", "username", cfg.AdminUsername)
		return nil
	}
	n, err := store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return err
	}
	username := cfg.AdminUsername
	if username == "" {
		username = DefaultAdmin
	}
	pw := rand.Text() // 26 characters, 130 bits
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		return err
	}
	if cfg.AdminPasswordFile != "" {
		if err := writeSecret(cfg.AdminPasswordFile, pw+"\n"); err != nil {
			return fmt.Errorf("write admin password file: %w", err)
		}
	}
	if err := store.UpsertUser(ctx, catalog.User{Username: username, Role: catalog.RoleAdmin, PasswordHash: hash}); err != nil {
		return err
	}
	msg := fmt.Sprintf("\nMarquee catalog: created the first admin.\n  username: %s\n  password: %s\n", username, pw)
	if cfg.AdminPasswordFile != "" {
		msg += fmt.Sprintf("  (also saved to %s, mode 0600)\n", cfg.AdminPasswordFile)
	}
	msg += "This password is shown only once. Set admin_username and admin_password to choose another.\n\n"
	if _, err := io.WriteString(stdout, msg); err != nil {
		return fmt.Errorf("announce admin password: %w", err)
	}
	log.Info("generated the first admin", "username", username)
	return nil
}

// writeSecret writes data to path with mode 0600 whatever was there before, atomically.
func writeSecret(path, data string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }() // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// seed loads the seed file unless this database was seeded before, in which case the file is not even
// read: a restart needs only the database.
func (s *Service) seed(ctx context.Context, path string) error {
	if path != "" {
		seeded, err := s.store.Seeded(ctx)
		if err != nil {
			return err
		}
		if seeded {
			s.log.Info("catalog already seeded; seed file not read", "file", path)
		} else if err := s.loadSeed(ctx, path); err != nil {
			return err
		}
	}
	s.seeded.Store(true)
	return nil
}

func (s *Service) loadSeed(ctx context.Context, path string) error {
	movies, err := ReadSeed(path)
	if err != nil {
		return err
	}
	n, err := s.store.Seed(ctx, movies, filepath.Base(path))
	if err != nil {
		return err
	}
	s.log.Info("seeded the catalog", "file", path, "movies", n)
	s.relay.Kick()
	return nil
}

// ReadSeed reads a seed file in any format pkg/ingest knows (a JSON array or JSON Lines, gzipped or not,
// of write bodies, imdb.json records or TMDB-like records) into valid movie inputs. A record that cannot be
// read or is not valid fails the whole seed, naming the record.
func ReadSeed(path string) ([]catalog.MovieInput, error) {
	var out []catalog.MovieInput
	err := ingest.ReadFile(path, func(r ingest.Record) error {
		if r.Err != nil {
			return fmt.Errorf("record %d: %w", r.Index, r.Err)
		}
		in := r.Movie
		if err := in.Validate(); err != nil {
			return fmt.Errorf("record %d (%q): %s %v", r.Index, in.Title, apperr.MessageOf(err), apperr.FieldsOf(err))
		}
		out = append(out, in)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed file: %w", err)
	}
	return out, nil
}
