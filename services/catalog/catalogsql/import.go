package catalogsql

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// ImportBatch is how many records one import transaction writes.
const ImportBatch = 500

// ImportMovies implements catalog.Store. Records are written in transactions of ImportBatch; when one
// record of a batch fails (a conflicting external id), the batch is rolled back and written again record
// by record, so that only that record fails.
func (s *Store) ImportMovies(ctx context.Context, actor string, inputs []catalog.MovieInput) ([]catalog.ImportResult, error) {
	results := make([]catalog.ImportResult, len(inputs))
	for start := 0; start < len(inputs); start += ImportBatch {
		batch := inputs[start:min(start+ImportBatch, len(inputs))]
		err := s.inTx(ctx, func(tx *txn) error {
			if err := s.claimFilms(ctx, tx, batch...); err != nil {
				return err
			}
			titles, err := s.titlesWithoutTMDBID(ctx, tx, batch)
			if err != nil {
				return err
			}
			for i, in := range batch {
				r, err := s.importOne(ctx, tx, actor, in, titles)
				if err != nil {
					return err
				}
				results[start+i] = r
			}
			return nil
		})
		if err == nil {
			continue
		}
		if !recordError(err) {
			return nil, fmt.Errorf("import movies: %w", dbErr(err))
		}
		for i, in := range batch {
			err := s.inTx(ctx, func(tx *txn) error {
				if err := s.claimFilms(ctx, tx, in); err != nil {
					return err
				}
				r, err := s.importOne(ctx, tx, actor, in, nil)
				results[start+i] = r
				return err
			})
			switch {
			case err == nil:
			case recordError(err):
				results[start+i] = catalog.ImportResult{Status: catalog.ImportFailed, Err: err}
			default:
				return nil, fmt.Errorf("import movies: %w", dbErr(err))
			}
		}
	}
	return results, nil
}

// recordError reports whether err is the fault of one record rather than of the database.
func recordError(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e)
}

// importOne writes one record: merged into the live movie it describes (matchMovie), or created. titles, if
// not nil, holds the batch's titles that a live movie without a tmdb_id has (titlesWithoutTMDBID), and gains
// those of the movies this record leaves without one.
func (s *Store) importOne(ctx context.Context, tx *txn, actor string, in catalog.MovieInput, titles map[string]bool) (catalog.ImportResult, error) {
	in.Genres = s.genres.Canonical(in.Genres)
	cur, err := s.matchMovie(ctx, tx, in, titles)
	if err != nil {
		return catalog.ImportResult{}, err
	}
	if cur == nil {
		m, err := s.insertMovie(ctx, tx, actor, in)
		if err != nil {
			return catalog.ImportResult{}, err
		}
		noteTitle(titles, m)
		return catalog.ImportResult{Status: catalog.ImportCreated, Movie: m}, nil
	}
	before := cur.Input()
	before.Genres = s.genres.Canonical(before.Genres) // stored before the vocabulary had a synonym
	merged := catalog.Merge(before, in)
	if catalog.Same(&before, &merged) && slices.Equal(before.Genres, cur.Genres) {
		return catalog.ImportResult{Status: catalog.ImportUnchanged, Movie: cur}, nil
	}
	m, err := s.updateMovie(ctx, tx, actor, cur, merged)
	if err != nil {
		return catalog.ImportResult{}, err
	}
	noteTitle(titles, m)
	return catalog.ImportResult{Status: catalog.ImportUpdated, Movie: m}, nil
}

// titlesWithoutTMDBID returns the title keys of the batch that a live movie without a tmdb_id has: the only
// movies a record with a tmdb_id can describe by its title (sameFilms). One statement a batch instead of
// one a record, which was a tenth of the all-in-one's CPU while it imported a catalog whose records all
// have a tmdb_id. The batch claimed its titles first (claimFilms), so no create or import of the same
// titles commits meanwhile; an update that renames a movie claims nothing, as with the look-up a record
// before.
func (s *Store) titlesWithoutTMDBID(ctx context.Context, tx *txn, batch []catalog.MovieInput) (map[string]bool, error) {
	var keys []any
	for _, in := range batch {
		if k := catalog.TitleKey(in.Title); k != "" && in.TMDBID != nil {
			keys = append(keys, k)
		}
	}
	out := map[string]bool{}
	for chunk := range slices.Chunk(keys, 500) {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT title_key FROM movies WHERE deleted_at IS NULL AND tmdb_id IS NULL AND title_key IN (?`+
			strings.Repeat(", ?", len(chunk)-1)+`)`, chunk...)
		if err != nil {
			return nil, fmt.Errorf("match movies by title: %w", dbErr(err))
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("match movies by title: %w", dbErr(err))
			}
			out[k] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("match movies by title: %w", dbErr(err))
		}
	}
	return out, nil
}

// noteTitle adds m's title to titles if m has no tmdb_id: a later record of the batch may describe it.
func noteTitle(titles map[string]bool, m *catalog.Movie) {
	if titles != nil && m.TMDBID == nil {
		titles[catalog.TitleKey(m.Title)] = true
	}
}

// matchMovie finds, and locks, the live movie an import record describes; nil if none. Its tmdb_id names
// it, else its imdb_id, else its title with the rule of catalog.SameFilm. A movie found by imdb_id that has
// another tmdb_id is a Conflict: the two ids disagree about which movie this is; so is a record that
// describes two stored movies, which only an id or a year can tell apart.
func (s *Store) matchMovie(ctx context.Context, tx *txn, in catalog.MovieInput, titles map[string]bool) (*catalog.Movie, error) {
	for _, by := range []struct {
		column string
		value  any
		ok     bool
	}{{"tmdb_id", in.TMDBID, in.TMDBID != nil}, {"imdb_id", in.IMDbID, in.IMDbID != nil}} {
		if !by.ok {
			continue
		}
		q := `SELECT ` + movieColumns + ` FROM movies WHERE ` + by.column + ` = ? AND deleted_at IS NULL` + s.d.forUpdate
		m, err := scanMovie(tx.QueryRowContext(ctx, q, by.value))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("match movie by %s: %w", by.column, dbErr(err))
		}
		if by.column == "imdb_id" && m.TMDBID != nil && in.TMDBID != nil && *m.TMDBID != *in.TMDBID {
			return nil, &apperr.Error{
				Code:    apperr.Conflict,
				Message: fmt.Sprintf("Movie %d has this imdb_id but another tmdb_id.", m.ID),
				Fields:  map[string]string{"imdb_id": "is already used by a movie with another tmdb_id"},
			}
		}
		return m, nil
	}
	// The title look-up reads without locking: on MySQL a locking read of a secondary index's range takes
	// gap locks, and concurrent imports inserting into those gaps deadlocked. The batch claimed the title
	// first (claimFilms), so a concurrent write of the same film has committed before this read. The one
	// movie found is then locked by its id, as any update locks it, and read again: a change meanwhile runs
	// the transaction again.
	if titles != nil && in.TMDBID != nil && !titles[catalog.TitleKey(in.Title)] {
		return nil, nil // no live movie without a tmdb_id has its title (titlesWithoutTMDBID)
	}
	same, err := s.sameFilms(ctx, tx, in)
	if err != nil || len(same) == 0 {
		return nil, err
	}
	if len(same) > 1 {
		return nil, ambiguous(same)
	}
	cur, err := s.lockMovie(ctx, tx, same[0].ID, same[0].Version)
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.PreconditionFailed) {
		return nil, errRetry
	}
	return cur, err
}

// sameFilms returns the live movies that in describes by its title (catalog.SameFilm), in id order. It does
// not lock them.
func (s *Store) sameFilms(ctx context.Context, db querier, in catalog.MovieInput) ([]*catalog.Movie, error) {
	key := catalog.TitleKey(in.Title)
	if key == "" {
		return nil, nil
	}
	q := `SELECT ` + movieColumns + ` FROM movies WHERE title_key = ? AND deleted_at IS NULL`
	args := []any{key}
	if in.Year != nil { // a movie of another year is another film: only these rows are read
		q += ` AND (year = ? OR year IS NULL)`
		args = append(args, *in.Year)
	}
	// A movie with another id of the record's kind is another film, and one with the same id was found by it:
	// for a catalog whose records all have a tmdb_id, only movies without one are read.
	if in.TMDBID != nil {
		q += ` AND tmdb_id IS NULL`
	}
	if in.IMDbID != nil {
		q += ` AND imdb_id IS NULL`
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("match movie by title: %w", dbErr(err))
	}
	defer rows.Close()
	var out []*catalog.Movie
	for rows.Next() {
		m, err := scanMovie(rows)
		if err != nil {
			return nil, fmt.Errorf("match movie by title: %w", dbErr(err))
		}
		if catalog.SameFilm(m, &in) {
			out = append(out, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("match movie by title: %w", dbErr(err))
	}
	return out, nil
}

// sameFilm is the Conflict of a create that describes stored films.
func sameFilm(same []*catalog.Movie) error {
	ids := movieIDs(same)
	return &apperr.Error{
		Code: apperr.Conflict,
		Message: fmt.Sprintf("Movie %s has this title and the same year or a director in common: it looks like the same film. Update it, or create this one anyway with allow_duplicate=true.",
			ids),
		Fields: map[string]string{"title": "matches movie " + ids},
	}
}

// movieIDs lists the movies' ids: "12" or "12, 34".
func movieIDs(ms []*catalog.Movie) string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = strconv.FormatInt(m.ID, 10)
	}
	return strings.Join(ids, ", ")
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ambiguous is the Conflict of a record that describes more than one stored movie.
func ambiguous(same []*catalog.Movie) error {
	ids := movieIDs(same)
	return &apperr.Error{
		Code: apperr.Conflict,
		Message: fmt.Sprintf("The record describes movies %s alike (the same title, and no year or director tells them apart); give it a tmdb_id, an imdb_id or a year.",
			ids),
		Fields: map[string]string{"title": "matches movies " + ids},
	}
}

// claimFilms takes the film_claims lock of each title the inputs may be looked up by, in one order (no two
// transactions wait on each other's claims), until the transaction ends. It must come before the
// transaction's first read: a MySQL transaction reads the snapshot of its first read, and a claim that
// waited for a concurrent write of the same film must be followed by reads that see that write.
func (s *Store) claimFilms(ctx context.Context, tx *txn, inputs ...catalog.MovieInput) error {
	keys := make([][]byte, 0, len(inputs))
	for _, in := range inputs {
		if k := catalog.TitleKey(in.Title); k != "" {
			h := sha256.Sum256([]byte(k))
			keys = append(keys, h[:])
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, s.d.claimFilm, k); err != nil {
			return fmt.Errorf("claim a film's title: %w", dbErr(err))
		}
	}
	return nil
}
