package catalogsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
			for i, in := range batch {
				r, err := s.importOne(ctx, tx, actor, in)
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
				r, err := s.importOne(ctx, tx, actor, in)
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

// importOne writes one record: an update of the live movie with its tmdb_id, else its imdb_id, or a
// creation.
func (s *Store) importOne(ctx context.Context, tx *txn, actor string, in catalog.MovieInput) (catalog.ImportResult, error) {
	cur, err := s.matchMovie(ctx, tx, in)
	if err != nil {
		return catalog.ImportResult{}, err
	}
	if cur == nil {
		m, err := s.insertMovie(ctx, tx, actor, in)
		if err != nil {
			return catalog.ImportResult{}, err
		}
		return catalog.ImportResult{Status: catalog.ImportCreated, Movie: m}, nil
	}
	before := cur.Input()
	if catalog.Same(&before, &in) {
		return catalog.ImportResult{Status: catalog.ImportUnchanged, Movie: cur}, nil
	}
	m, err := s.updateMovie(ctx, tx, actor, cur, in)
	if err != nil {
		return catalog.ImportResult{}, err
	}
	return catalog.ImportResult{Status: catalog.ImportUpdated, Movie: m}, nil
}

// matchMovie finds, and locks, the live movie an import record updates; nil if none. A movie found by
// imdb_id that has another tmdb_id is a Conflict: the two ids disagree about which movie this is.
func (s *Store) matchMovie(ctx context.Context, tx *txn, in catalog.MovieInput) (*catalog.Movie, error) {
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
	return nil, nil
}
