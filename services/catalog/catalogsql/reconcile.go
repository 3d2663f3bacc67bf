package catalogsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"marquee/pkg/events"
	"marquee/services/catalog"
)

// CountMovies counts every movie the database holds, deleted ones included (each has a last message in
// the stream: its tombstone).
func (s *Store) CountMovies(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM movies`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count movies: %w", dbErr(err))
	}
	return n, nil
}

// MovieVersions implements catalog.Store: a page of (id, version, deleted) of every movie, deleted ones
// included, in id order after afterID.
func (s *Store) MovieVersions(ctx context.Context, afterID int64, limit int) ([]catalog.MovieVersion, error) {
	const q = `SELECT id, version, deleted_at IS NOT NULL FROM movies WHERE id > ? ORDER BY id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list movie versions: %w", dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	out := make([]catalog.MovieVersion, 0, limit)
	for rows.Next() {
		var v catalog.MovieVersion
		if err := rows.Scan(&v.ID, &v.Version, &v.Deleted); err != nil {
			return nil, fmt.Errorf("list movie versions: %w", dbErr(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list movie versions: %w", dbErr(err))
	}
	return out, nil
}

// RepublishMovie implements catalog.Store. In one transaction it locks the movie's row, so that the repair
// is ordered with the movie's writes exactly like a write's own event, and, unless an event of the movie is
// still waiting in the outbox (the relay will publish the current state anyway), queues the movie's current
// state (or tombstone) under the message id events.RepairMsgID, which the duplicate window never drops.
func (s *Store) RepublishMovie(ctx context.Context, id int64) (queued bool, version int64, err error) {
	err = s.inTx(ctx, func(tx *txn) error {
		q := `SELECT ` + movieColumns + `, deleted_at IS NOT NULL FROM movies WHERE id = ?` + s.d.forUpdate
		var deleted bool
		m, err := scanMovie(tx.QueryRowContext(ctx, q, id), &deleted)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // never existed: nothing to repair
		}
		if err != nil {
			return fmt.Errorf("read movie: %w", dbErr(err))
		}
		version = m.Version
		var pending int
		const qp = `SELECT COUNT(*) FROM outbox WHERE movie_id = ? AND published_at IS NULL`
		if err := tx.QueryRowContext(ctx, qp, id).Scan(&pending); err != nil {
			return fmt.Errorf("count pending events: %w", dbErr(err))
		}
		if pending > 0 {
			return nil
		}
		now := s.timestamp()
		e := catalog.UpsertEvent(m)
		if deleted {
			e = catalog.DeleteEvent(id, m.Version, m.UpdatedAt)
		}
		if err := s.insertEventAs(ctx, tx, e, events.RepairMsgID(id, m.Version, now.UnixNano()), now); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("republish movie %d: %w", id, err)
	}
	return queued, version, nil
}
