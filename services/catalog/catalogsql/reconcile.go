package catalogsql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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

// RepublishMovies implements catalog.Store. In one transaction it locks the movies' rows, so that each
// repair is ordered with the movie's writes exactly like a write's own event, and, for each movie with no
// event still waiting in the outbox (the relay will publish its current state anyway), queues its current
// state (or tombstone) under the message id events.RepairMsgID, which the duplicate window never drops.
// A start over an empty stream republishes the whole catalog a page at a time: three statements a page,
// not three a movie and a commit each (1.35 ms a movie on MariaDB beside a busy indexer).
func (s *Store) RepublishMovies(ctx context.Context, ids []int64) (queued []int64, err error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Sorted(slices.Values(ids)) // rows locked in one order: two batches never deadlock
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	in := ` IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	err = s.inTx(ctx, func(tx *txn) error {
		queued = queued[:0]
		pending, err := pendingMovies(ctx, tx, in, args)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+movieColumns+`, deleted_at IS NOT NULL FROM movies WHERE id`+in+` ORDER BY id`+s.d.forUpdate, args...)
		if err != nil {
			return fmt.Errorf("read movies: %w", dbErr(err))
		}
		var repairs []*events.MovieChanged
		for rows.Next() {
			var deleted bool
			m, err := scanMovie(rows, &deleted)
			if err != nil {
				_ = rows.Close()
				return fmt.Errorf("read movie: %w", dbErr(err))
			}
			switch {
			case pending[m.ID]:
			case deleted:
				repairs = append(repairs, catalog.DeleteEvent(m.ID, m.Version, m.UpdatedAt))
			default:
				repairs = append(repairs, catalog.UpsertEvent(m))
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read movies: %w", dbErr(err))
		}
		now := s.timestamp()
		for chunk := range slices.Chunk(repairs, republishChunk) {
			if err := s.insertRepairs(ctx, tx, chunk, now); err != nil {
				return err
			}
		}
		for _, e := range repairs {
			queued = append(queued, e.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("republish movies: %w", err)
	}
	return queued, nil
}

// republishChunk is the outbox rows one statement inserts: a few hundred KB of payloads, well within
// MySQL's max_allowed_packet.
const republishChunk = 100

// pendingMovies is which movies of the IN list have an event waiting in the outbox.
func pendingMovies(ctx context.Context, tx *txn, in string, args []any) (map[int64]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT movie_id FROM outbox WHERE published_at IS NULL AND movie_id`+in, args...)
	if err != nil {
		return nil, fmt.Errorf("find pending events: %w", dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	pending := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find pending events: %w", dbErr(err))
		}
		pending[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find pending events: %w", dbErr(err))
	}
	return pending, nil
}

// insertRepairs queues repair events in one statement, each under its own events.RepairMsgID.
func (s *Store) insertRepairs(ctx context.Context, tx *txn, es []*events.MovieChanged, now time.Time) error {
	args := make([]any, 0, 5*len(es))
	for _, e := range es {
		payload, err := e.Marshal()
		if err != nil {
			return fmt.Errorf("encode event: %w", dbErr(err))
		}
		args = append(args, events.RepairMsgID(e.ID, e.Version, now.UnixNano()), e.ID, e.Version, payload, now)
	}
	q := `INSERT INTO outbox (event_id, movie_id, version, payload, created_at) VALUES (?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?)`, len(es)-1)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("insert outbox events: %w", dbErr(err))
	}
	return nil
}
