package catalogsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/genres"
	"marquee/services/catalog"
)

// Store is the catalog.Store over database/sql.
type Store struct {
	db  *sql.DB
	d   Dialect
	now func() time.Time
	// writer lets SQLite's transactions in one at a time, first come first served. SQLite has one writer;
	// left to its busy handler, the waiting ones poll with sleeps of up to 100 ms, so the database idles
	// between transactions and an unlucky writer waits behind many others (in the bench, one of ten import
	// requests of 10,000 records took 24.6 s of the import's 24.7 s). nil on MySQL, where writers of
	// different rows run at once.
	writer *semaphore.Weighted
	genres *genres.Vocabulary // every write's genres are stored in their canonical spelling
}

var _ catalog.Store = (*Store)(nil)

// New returns a store over a migrated database.
func New(db *sql.DB, d Dialect) *Store {
	s := &Store{db: db, d: d, now: time.Now, genres: genres.Default()}
	if d.Name == SQLite {
		s.writer = semaphore.NewWeighted(1)
	}
	return s
}

// UseGenres makes g the vocabulary of every later write's genres.
func (s *Store) UseGenres(g *genres.Vocabulary) { s.genres = g }

// SeedActor is the actor of the seed's history entries.
const SeedActor = "seed"

// errRetry asks inTx to run the transaction again.
var errRetry = errors.New("retry transaction")

// inTx runs fn in one transaction, running it again (a few times) when it lost a race: an InnoDB deadlock
// rolls back the whole transaction, so repeating all of it is the documented remedy.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	const attempts = 5
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(i*i) * 10 * time.Millisecond):
			}
		}
		err = s.tryTx(ctx, fn)
		if err == nil || !(errors.Is(err, errRetry) || retryable(err)) {
			return dbErr(err)
		}
	}
	return fmt.Errorf("transaction kept losing races after %d attempts: %w", attempts, dbErr(err))
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *txn) error) error {
	if s.writer != nil {
		if err := s.writer.Acquire(ctx, 1); err != nil {
			return err
		}
		defer s.writer.Release(1)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", dbErr(err))
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(&txn{Tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", dbErr(err))
	}
	return nil
}

// txn is a transaction that prepares each statement with arguments once and runs it again as often as the
// transaction needs: an import runs the same five statements for each of its records, and SQLite parsing
// them anew for each was a third of the catalog's CPU during an import. Both drivers prepare a statement
// with arguments anyway; statements without run as they are. The prepared statements close with the
// transaction.
type txn struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (t *txn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if len(args) == 0 {
		return t.Tx.ExecContext(ctx, query)
	}
	st, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if len(args) == 0 {
		return t.Tx.QueryContext(ctx, query)
	}
	st, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if len(args) == 0 {
		return t.Tx.QueryRowContext(ctx, query)
	}
	st, err := t.prepared(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...) // a Row that reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

// timestamp is the time the store writes: UTC, at the microsecond precision both engines keep.
func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreateMovie implements catalog.Store.
func (s *Store) CreateMovie(ctx context.Context, actor string, in catalog.MovieInput, onSame catalog.OnSameFilm) (*catalog.Movie, error) {
	var m *catalog.Movie
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		m, err = s.createMovie(ctx, tx, actor, in, onSame)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create movie: %w", dbErr(err))
	}
	return m, nil
}

// createMovie is insertMovie for a client's create: with RefuseSameFilm, a movie that describes a stored film
// is a Conflict. The title is claimed before the check (claimFilms), so that of two creates of one film at
// once the second finds the first's movie. It must be the transaction's first read.
func (s *Store) createMovie(ctx context.Context, tx *txn, actor string, in catalog.MovieInput, onSame catalog.OnSameFilm) (*catalog.Movie, error) {
	if onSame == catalog.RefuseSameFilm {
		if err := s.claimFilms(ctx, tx, in); err != nil {
			return nil, err
		}
		same, err := s.sameFilms(ctx, tx, in)
		if err != nil {
			return nil, err
		}
		if len(same) > 0 {
			return nil, sameFilm(same)
		}
	}
	return s.insertMovie(ctx, tx, actor, in)
}

func (s *Store) insertMovie(ctx context.Context, tx *txn, actor string, in catalog.MovieInput) (*catalog.Movie, error) {
	in.Genres = s.genres.Canonical(in.Genres)
	now := s.timestamp()
	m := &catalog.Movie{ID: 0, Version: 1, CreatedAt: now, UpdatedAt: now}
	setInput(m, in)
	args, err := fieldArgs(m)
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, insertMovieSQL, append(args, now, now, catalog.TitleKey(m.Title))...)
	if err != nil {
		return nil, writeError("insert movie", err)
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("insert movie: %w", dbErr(err))
	}
	if err := s.insertEvent(ctx, tx, catalog.UpsertEvent(m), now); err != nil {
		return nil, err
	}
	// A creation's entry holds no fields: MovieHistory rebuilds them from the row (catalog.FirstState).
	if err := s.insertHistory(ctx, tx, m.ID, 1, catalog.ActionCreated, actor, nil, now); err != nil {
		return nil, err
	}
	return m, nil
}

// writeError turns a unique-key violation on an external id into a Conflict naming the field.
func writeError(what string, err error) error {
	if duplicateKey(err) {
		msg := err.Error()
		for _, field := range []string{"tmdb_id", "imdb_id"} {
			if strings.Contains(msg, field) {
				return &apperr.Error{
					Code:    apperr.Conflict,
					Message: fmt.Sprintf("Another movie has this %s.", field),
					Fields:  map[string]string{field: "is already used by another movie"},
				}
			}
		}
	}
	return fmt.Errorf("%s: %w", what, dbErr(err))
}

// UpdateMovie implements catalog.Store.
func (s *Store) UpdateMovie(ctx context.Context, actor string, id, ifVersion int64, in catalog.MovieInput) (*catalog.Movie, error) {
	var m *catalog.Movie
	err := s.inTx(ctx, func(tx *txn) error {
		cur, err := s.lockMovie(ctx, tx, id, ifVersion)
		if err != nil {
			return err
		}
		m, err = s.updateMovie(ctx, tx, actor, cur, in)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update movie %d: %w", id, dbErr(err))
	}
	return m, nil
}

// lockMovie reads a live movie for a change, locking its row on MySQL (SQLite transactions hold the
// database's write lock from BEGIN). The row lock orders concurrent writers of one movie, so their outbox
// rows commit in version order. Returns NotFound or PreconditionFailed.
func (s *Store) lockMovie(ctx context.Context, tx *txn, id, ifVersion int64) (*catalog.Movie, error) {
	q := `SELECT ` + movieColumns + `, deleted_at IS NOT NULL FROM movies WHERE id = ?` + s.d.forUpdate
	var deleted bool
	m, err := scanMovie(tx.QueryRowContext(ctx, q, id), &deleted)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && deleted):
		return nil, apperr.Errorf(apperr.NotFound, "Movie %d not found.", id)
	case err != nil:
		return nil, fmt.Errorf("read movie: %w", dbErr(err))
	case ifVersion != 0 && m.Version != ifVersion:
		return nil, apperr.Errorf(apperr.PreconditionFailed, "Movie %d is no longer at version %d.", id, ifVersion)
	}
	return m, nil
}

// updateMovie writes in over cur, which the transaction has locked, as the next version.
func (s *Store) updateMovie(ctx context.Context, tx *txn, actor string, cur *catalog.Movie, in catalog.MovieInput) (*catalog.Movie, error) {
	in.Genres = s.genres.Canonical(in.Genres)
	now := s.timestamp()
	before := cur.Input()
	m := *cur
	setInput(&m, in)
	m.Version, m.UpdatedAt = cur.Version+1, now
	args, err := fieldArgs(&m)
	if err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, updateMovieSQL, append(args, m.Version, now, catalog.TitleKey(m.Title), m.ID, cur.Version)...)
	if err != nil {
		return nil, writeError("update movie", err)
	}
	if err := oneRow(res); err != nil {
		return nil, err
	}
	if err := s.insertEvent(ctx, tx, catalog.UpsertEvent(&m), now); err != nil {
		return nil, err
	}
	if err := s.insertHistory(ctx, tx, m.ID, m.Version, catalog.ActionUpdated, actor, catalog.Diff(&before, &in), now); err != nil {
		return nil, err
	}
	return &m, nil
}

// oneRow checks that a write guarded by a row lock changed its row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", dbErr(err))
	}
	if n != 1 {
		return fmt.Errorf("locked write changed %d rows", n)
	}
	return nil
}

// DeleteMovie implements catalog.Store.
func (s *Store) DeleteMovie(ctx context.Context, actor string, id, ifVersion int64) (int64, error) {
	var version int64
	err := s.inTx(ctx, func(tx *txn) error {
		cur, err := s.lockMovie(ctx, tx, id, ifVersion)
		if err != nil {
			return err
		}
		now := s.timestamp()
		version = cur.Version + 1
		// The external ids are freed, so that the movie can be created again.
		const q = `UPDATE movies SET version = ?, updated_at = ?, deleted_at = ?, tmdb_id = NULL, imdb_id = NULL
		WHERE id = ? AND version = ?`
		res, err := tx.ExecContext(ctx, q, version, now, now, id, cur.Version)
		if err != nil {
			return fmt.Errorf("delete movie: %w", dbErr(err))
		}
		if err := oneRow(res); err != nil {
			return err
		}
		if err := s.insertEvent(ctx, tx, catalog.DeleteEvent(id, version, now), now); err != nil {
			return err
		}
		// The ids it frees are a change, which MovieHistory needs to rebuild a creation of the movie.
		freed := catalog.Diff(&catalog.MovieInput{TMDBID: cur.TMDBID, IMDbID: cur.IMDbID}, &catalog.MovieInput{})
		return s.insertHistory(ctx, tx, id, version, catalog.ActionDeleted, actor, freed, now)
	})
	if err != nil {
		return 0, fmt.Errorf("delete movie %d: %w", id, dbErr(err))
	}
	return version, nil
}

// insertEvent writes a change event to the outbox, in the caller's transaction.
func (s *Store) insertEvent(ctx context.Context, tx *txn, e *events.MovieChanged, now time.Time) error {
	return s.insertEventAs(ctx, tx, e, events.MsgID(e.ID, e.Version), now)
}

// insertEventAs writes a change event to the outbox under the message id msgID.
func (s *Store) insertEventAs(ctx context.Context, tx *txn, e *events.MovieChanged, msgID string, now time.Time) error {
	payload, err := e.Marshal()
	if err != nil {
		return fmt.Errorf("encode event: %w", dbErr(err))
	}
	const q = `INSERT INTO outbox (event_id, movie_id, version, payload, created_at) VALUES (?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, msgID, e.ID, e.Version, payload, now); err != nil {
		return fmt.Errorf("insert outbox event: %w", dbErr(err))
	}
	return nil
}

// insertHistory records a change of a movie, in the caller's transaction.
func (s *Store) insertHistory(ctx context.Context, tx *txn, id, version int64, action, actor string,
	changes map[string]catalog.FieldChange, now time.Time) error {
	data := []byte("{}")
	var err error
	if len(changes) > 0 {
		data, err = json.Marshal(changes)
	}
	if err != nil {
		return fmt.Errorf("encode history: %w", dbErr(err))
	}
	const q = `INSERT INTO movie_history (movie_id, version, action, actor, changes, created_at) VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, id, version, action, actor, string(data), now); err != nil {
		return fmt.Errorf("insert history: %w", dbErr(err))
	}
	return nil
}

// MovieHistory implements catalog.Store. The movie's row is read before its entries: every entry up to the
// row's version is committed with it, so the row and those entries rebuild a creation stored without its
// fields (catalog.FirstState), whatever is written meanwhile.
func (s *Store) MovieHistory(ctx context.Context, id int64) ([]catalog.HistoryEntry, error) {
	cur, err := scanMovie(s.db.QueryRowContext(ctx, `SELECT `+movieColumns+` FROM movies WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "Movie %d never existed.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read movie %d: %w", id, dbErr(err))
	}
	const q = `SELECT version, action, actor, changes, created_at FROM movie_history WHERE movie_id = ? ORDER BY version`
	rows, err := s.db.QueryContext(ctx, q, id)
	if err != nil {
		return nil, fmt.Errorf("read history of movie %d: %w", id, dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	out := []catalog.HistoryEntry{} // a movie from before histories were kept has none
	for rows.Next() {
		var (
			h       catalog.HistoryEntry
			changes string
			at      timeValue
		)
		if err := rows.Scan(&h.Version, &h.Action, &h.Actor, &changes, &at); err != nil {
			return nil, fmt.Errorf("read history of movie %d: %w", id, dbErr(err))
		}
		if err := json.Unmarshal([]byte(changes), &h.Changes); err != nil {
			return nil, fmt.Errorf("decode history of movie %d v%d: %w", id, h.Version, dbErr(err))
		}
		if h.Changes == nil {
			h.Changes = map[string]catalog.FieldChange{}
		}
		h.At = timeOf(at)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history of movie %d: %w", id, dbErr(err))
	}
	// A creation always sets a title: one with no fields was stored without them.
	if len(out) > 0 && out[0].Action == catalog.ActionCreated && len(out[0].Changes) == 0 {
		in := cur.Input()
		out[0].Changes = catalog.FirstState(&in, cur.Version, out[1:])
	}
	return out, nil
}

// Movie implements catalog.Store.
func (s *Store) Movie(ctx context.Context, id int64) (*catalog.Movie, error) {
	m, err := s.movie(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("get movie %d: %w", id, dbErr(err))
	}
	return m, nil
}

// Movies implements catalog.Store.
func (s *Store) Movies(ctx context.Context, afterID int64, limit int) ([]*catalog.Movie, error) {
	q := `SELECT ` + movieColumns + ` FROM movies WHERE id > ? AND deleted_at IS NULL ORDER BY id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list movies: %w", dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	var out []*catalog.Movie
	for rows.Next() {
		m, err := scanMovie(rows)
		if err != nil {
			return nil, fmt.Errorf("list movies: %w", dbErr(err))
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list movies: %w", dbErr(err))
	}
	return out, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) movie(ctx context.Context, db queryRower, id int64) (*catalog.Movie, error) {
	q := `SELECT ` + movieColumns + ` FROM movies WHERE id = ? AND deleted_at IS NULL`
	m, err := scanMovie(db.QueryRowContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "Movie %d not found.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read movie: %w", dbErr(err))
	}
	return m, nil
}

// nullTime scans a nullable timestamp of either engine.
type nullTime struct {
	t     time.Time
	valid bool
}

func (n *nullTime) Scan(src any) error {
	if src == nil {
		*n = nullTime{}
		return nil
	}
	var t timeValue
	if err := t.Scan(src); err != nil {
		return err
	}
	*n = nullTime{t: timeOf(t), valid: true}
	return nil
}

func (n nullTime) ptr() *time.Time {
	if !n.valid {
		return nil
	}
	return &n.t
}

// timeValue scans the timestamps of either engine: time.Time from MySQL (parseTime) and from SQLite
// DATETIME columns, or the text SQLite stored.
type timeValue time.Time

func (t *timeValue) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*t = timeValue(v.UTC())
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
}

func timeOf(t timeValue) time.Time { return time.Time(t) }

func (t *timeValue) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = timeValue(v.UTC())
			return nil
		}
	}
	return fmt.Errorf("cannot parse time %q", strings.TrimSpace(s))
}

const qSeedMarker = `SELECT value FROM meta WHERE name = 'seeded'`

// Seeded implements catalog.Store.
func (s *Store) Seeded(ctx context.Context) (bool, error) {
	var marker string
	switch err := s.db.QueryRowContext(ctx, qSeedMarker).Scan(&marker); {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, fmt.Errorf("read seed marker: %w", dbErr(err))
	}
}

// Seed implements catalog.Store. The marker is inserted first: a concurrent seeder blocks on it and then
// fails with a duplicate key, and its retry sees the marker and stores nothing.
func (s *Store) Seed(ctx context.Context, inputs []catalog.MovieInput, source string) (int, error) {
	var inserted int
	err := s.inTx(ctx, func(tx *txn) error {
		inserted = 0
		var marker string
		switch err := tx.QueryRowContext(ctx, qSeedMarker).Scan(&marker); {
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read seed marker: %w", dbErr(err))
		}
		value := fmt.Sprintf("%s %d movies from %s", s.timestamp().Format(time.RFC3339), len(inputs), source)
		const qi = `INSERT INTO meta (name, value) VALUES ('seeded', ?)`
		if _, err := tx.ExecContext(ctx, qi, value); err != nil {
			if duplicateKey(err) {
				return errRetry
			}
			return fmt.Errorf("write seed marker: %w", dbErr(err))
		}
		for _, in := range inputs {
			if _, err := s.insertMovie(ctx, tx, SeedActor, in); err != nil {
				return err
			}
			inserted++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seed from %s: %w", source, dbErr(err))
	}
	return inserted, nil
}

// Meta returns the value of a name in the meta table; false if it has none.
func (s *Store) Meta(ctx context.Context, name string) (string, bool, error) {
	var v string
	switch err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&v); {
	case err == nil:
		return v, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	default:
		return "", false, fmt.Errorf("read meta %s: %w", name, dbErr(err))
	}
}

// SetMeta sets the value of a name in the meta table.
func (s *Store) SetMeta(ctx context.Context, name, value string) error {
	return s.inTx(ctx, func(tx *txn) error {
		var cur string
		switch err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`+s.d.forUpdate, name).Scan(&cur); {
		case err == nil && cur == value:
			return nil
		case err == nil:
			if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = ?`, value, name); err != nil {
				return fmt.Errorf("write meta %s: %w", name, dbErr(err))
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read meta %s: %w", name, dbErr(err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)`, name, value); err != nil {
			if duplicateKey(err) {
				return errRetry // written meanwhile: write ours over it
			}
			return fmt.Errorf("write meta %s: %w", name, dbErr(err))
		}
		return nil
	})
}

// Genres is the store's genre vocabulary.
func (s *Store) Genres() *genres.Vocabulary { return s.genres }
