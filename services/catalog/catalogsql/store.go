package catalogsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/services/catalog"
)

// Store is the catalog.Store over database/sql.
type Store struct {
	db     *sql.DB
	d      Dialect
	stream events.Stream
	now    func() time.Time
}

var _ catalog.Store = (*Store)(nil)

// New returns a store over a migrated database. Outbox rows name subjects of stream.
func New(db *sql.DB, d Dialect, stream events.Stream) *Store {
	return &Store{db: db, d: d, stream: stream, now: time.Now}
}

// errRetry asks inTx to run the transaction again.
var errRetry = errors.New("retry transaction")

// inTx runs fn in one transaction, running it again (a few times) when it lost a race: an InnoDB deadlock
// rolls back the whole transaction, so repeating all of it is the documented remedy.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
			return err
		}
	}
	return fmt.Errorf("transaction kept losing races after %d attempts: %w", attempts, err)
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// timestamp is the time the store writes: UTC, at the microsecond precision both engines keep.
func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreateMovie implements catalog.Store.
func (s *Store) CreateMovie(ctx context.Context, in catalog.MovieInput) (*catalog.Movie, error) {
	var m *catalog.Movie
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = s.insertMovie(ctx, tx, in)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create movie: %w", err)
	}
	return m, nil
}

func (s *Store) insertMovie(ctx context.Context, tx *sql.Tx, in catalog.MovieInput) (*catalog.Movie, error) {
	now := s.timestamp()
	m := &catalog.Movie{
		Title: in.Title, Year: in.Year, Directors: in.Directors, Cast: in.Cast, Genres: in.Genres,
		Overview: in.Overview, RuntimeMinutes: in.RuntimeMinutes, Rating: in.Rating, Votes: in.Votes,
		Popularity: in.Popularity, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	directors, cast, genres, err := encodeLists(m.Directors, m.Cast, m.Genres)
	if err != nil {
		return nil, err
	}
	const q = `INSERT INTO movies (title, year, directors, cast_members, genres, overview, runtime_minutes,
	rating, votes, popularity, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`
	res, err := tx.ExecContext(ctx, q, m.Title, m.Year, directors, cast, genres, m.Overview, m.RuntimeMinutes,
		m.Rating, m.Votes, m.Popularity, now, now)
	if err != nil {
		return nil, fmt.Errorf("insert movie: %w", err)
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("insert movie: %w", err)
	}
	if err := s.insertEvent(ctx, tx, catalog.UpsertEvent(m), now); err != nil {
		return nil, err
	}
	return m, nil
}

// UpdateMovie implements catalog.Store.
func (s *Store) UpdateMovie(ctx context.Context, id, ifVersion int64, in catalog.MovieInput) (*catalog.Movie, error) {
	var m *catalog.Movie
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.timestamp()
		directors, cast, genres, err := encodeLists(in.Directors, in.Cast, in.Genres)
		if err != nil {
			return err
		}
		// The guarded UPDATE comes first: its row lock orders concurrent writers of one movie, so their
		// outbox rows commit in version order (reliability.md 1.2).
		const q = `UPDATE movies SET title = ?, year = ?, directors = ?, cast_members = ?, genres = ?, overview = ?,
		runtime_minutes = ?, rating = ?, votes = ?, popularity = ?, version = version + 1, updated_at = ?
		WHERE id = ? AND deleted_at IS NULL AND (? = 0 OR version = ?)`
		res, err := tx.ExecContext(ctx, q, in.Title, in.Year, directors, cast, genres, in.Overview,
			in.RuntimeMinutes, in.Rating, in.Votes, in.Popularity, now, id, ifVersion, ifVersion)
		if err != nil {
			return fmt.Errorf("update movie: %w", err)
		}
		if err := s.checkChanged(ctx, tx, res, id, ifVersion); err != nil {
			return err
		}
		if m, err = s.movie(ctx, tx, id); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, catalog.UpsertEvent(m), now)
	})
	if err != nil {
		return nil, fmt.Errorf("update movie %d: %w", id, err)
	}
	return m, nil
}

// DeleteMovie implements catalog.Store.
func (s *Store) DeleteMovie(ctx context.Context, id, ifVersion int64) (int64, error) {
	var version int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.timestamp()
		const q = `UPDATE movies SET version = version + 1, updated_at = ?, deleted_at = ?
		WHERE id = ? AND deleted_at IS NULL AND (? = 0 OR version = ?)`
		res, err := tx.ExecContext(ctx, q, now, now, id, ifVersion, ifVersion)
		if err != nil {
			return fmt.Errorf("delete movie: %w", err)
		}
		if err := s.checkChanged(ctx, tx, res, id, ifVersion); err != nil {
			return err
		}
		const qv = `SELECT version FROM movies WHERE id = ?`
		if err := tx.QueryRowContext(ctx, qv, id).Scan(&version); err != nil {
			return fmt.Errorf("read tombstone version: %w", err)
		}
		return s.insertEvent(ctx, tx, catalog.DeleteEvent(id, version, now), now)
	})
	if err != nil {
		return 0, fmt.Errorf("delete movie %d: %w", id, err)
	}
	return version, nil
}

// checkChanged turns a guarded write that changed no row into NotFound or PreconditionFailed.
func (s *Store) checkChanged(ctx context.Context, tx *sql.Tx, res sql.Result, id, ifVersion int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 1 {
		return nil
	}
	var deleted bool
	const q = `SELECT deleted_at IS NOT NULL FROM movies WHERE id = ?`
	switch err := tx.QueryRowContext(ctx, q, id).Scan(&deleted); {
	case errors.Is(err, sql.ErrNoRows):
		return apperr.Errorf(apperr.NotFound, "Movie %d not found.", id)
	case err != nil:
		return fmt.Errorf("check movie: %w", err)
	case deleted:
		return apperr.Errorf(apperr.NotFound, "Movie %d not found.", id)
	case ifVersion != 0:
		return apperr.Errorf(apperr.PreconditionFailed, "Movie %d is no longer at version %d.", id, ifVersion)
	default:
		return fmt.Errorf("guarded write of movie %d changed %d rows", id, n)
	}
}

// insertEvent writes a change event to the outbox, in the caller's transaction.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, e *events.MovieChanged, now time.Time) error {
	payload, err := e.Marshal()
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	const q = `INSERT INTO outbox (event_id, movie_id, version, subject, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, events.MsgID(e.ID, e.Version), e.ID, e.Version, s.stream.Subject(e.ID), payload, now); err != nil {
		return fmt.Errorf("insert outbox event: %w", err)
	}
	return nil
}

// Movie implements catalog.Store.
func (s *Store) Movie(ctx context.Context, id int64) (*catalog.Movie, error) {
	m, err := s.movie(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("get movie %d: %w", id, err)
	}
	return m, nil
}

// Movies implements catalog.Store.
func (s *Store) Movies(ctx context.Context, afterID int64, limit int) ([]*catalog.Movie, error) {
	const q = `SELECT ` + movieColumns + ` FROM movies WHERE id > ? AND deleted_at IS NULL ORDER BY id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list movies: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []*catalog.Movie
	for rows.Next() {
		m, err := scanMovie(rows)
		if err != nil {
			return nil, fmt.Errorf("list movies: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list movies: %w", err)
	}
	return out, nil
}

const movieColumns = `id, title, year, directors, cast_members, genres, overview, runtime_minutes, rating, votes,
popularity, version, created_at, updated_at`

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) movie(ctx context.Context, db queryRower, id int64) (*catalog.Movie, error) {
	const q = `SELECT ` + movieColumns + ` FROM movies WHERE id = ? AND deleted_at IS NULL`
	m, err := scanMovie(db.QueryRowContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "Movie %d not found.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read movie: %w", err)
	}
	return m, nil
}

func scanMovie(row interface{ Scan(...any) error }) (*catalog.Movie, error) {
	var (
		m                       catalog.Movie
		year, runtime           sql.NullInt64
		votes                   sql.NullInt64
		rating, popularity      sql.NullFloat64
		directors, cast, genres string
		createdAt, updatedAt    timeValue
	)
	err := row.Scan(&m.ID, &m.Title, &year, &directors, &cast, &genres, &m.Overview, &runtime, &rating, &votes,
		&popularity, &m.Version, &createdAt, &updatedAt)
	if err != nil {
		return nil, err
	}
	if year.Valid {
		v := int(year.Int64)
		m.Year = &v
	}
	if runtime.Valid {
		v := int(runtime.Int64)
		m.RuntimeMinutes = &v
	}
	if votes.Valid {
		m.Votes = &votes.Int64
	}
	if rating.Valid {
		m.Rating = &rating.Float64
	}
	if popularity.Valid {
		m.Popularity = &popularity.Float64
	}
	for _, l := range []struct {
		raw string
		dst *[]string
	}{{directors, &m.Directors}, {cast, &m.Cast}, {genres, &m.Genres}} {
		if err := json.Unmarshal([]byte(l.raw), l.dst); err != nil {
			return nil, fmt.Errorf("decode list of movie %d: %w", m.ID, err)
		}
		if *l.dst == nil {
			*l.dst = []string{}
		}
	}
	m.CreatedAt, m.UpdatedAt = timeOf(createdAt), timeOf(updatedAt)
	return &m, nil
}

func encodeLists(lists ...[]string) (string, string, string, error) {
	var out [3]string
	for i, l := range lists {
		if l == nil {
			l = []string{}
		}
		b, err := json.Marshal(l)
		if err != nil {
			return "", "", "", fmt.Errorf("encode list: %w", err)
		}
		out[i] = string(b)
	}
	return out[0], out[1], out[2], nil
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
		return false, fmt.Errorf("read seed marker: %w", err)
	}
}

// Seed implements catalog.Store. The marker is inserted first: a concurrent seeder blocks on it and then
// fails with a duplicate key, and its retry sees the marker and stores nothing.
func (s *Store) Seed(ctx context.Context, inputs []catalog.MovieInput, source string) (int, error) {
	var inserted int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		inserted = 0
		var marker string
		switch err := tx.QueryRowContext(ctx, qSeedMarker).Scan(&marker); {
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read seed marker: %w", err)
		}
		value := fmt.Sprintf("%s %d movies from %s", s.timestamp().Format(time.RFC3339), len(inputs), source)
		const qi = `INSERT INTO meta (name, value) VALUES ('seeded', ?)`
		if _, err := tx.ExecContext(ctx, qi, value); err != nil {
			if duplicateKey(err) {
				return errRetry
			}
			return fmt.Errorf("write seed marker: %w", err)
		}
		for _, in := range inputs {
			if _, err := s.insertMovie(ctx, tx, in); err != nil {
				return err
			}
			inserted++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seed from %s: %w", source, err)
	}
	return inserted, nil
}
