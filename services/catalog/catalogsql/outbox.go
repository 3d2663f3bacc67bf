package catalogsql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"marquee/services/catalog"
)

// PendingEvents implements catalog.Store. It scans the unpublished set rather than keeping a cursor: ids are
// assigned at insert, not at commit, so a lower id can become visible after a higher one.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]catalog.OutboxEvent, error) {
	const q = `SELECT id, event_id, movie_id, version, payload, created_at FROM outbox
	WHERE published_at IS NULL ORDER BY id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("read pending events: %w", dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	var out []catalog.OutboxEvent
	for rows.Next() {
		var (
			e  catalog.OutboxEvent
			at timeValue
		)
		if err := rows.Scan(&e.ID, &e.EventID, &e.MovieID, &e.Version, &e.Payload, &at); err != nil {
			return nil, fmt.Errorf("read pending events: %w", dbErr(err))
		}
		e.CreatedAt = timeOf(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending events: %w", dbErr(err))
	}
	return out, nil
}

// MarkPublished implements catalog.Store.
func (s *Store) MarkPublished(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *txn) error {
		args := make([]any, 0, len(ids)+1)
		args = append(args, s.timestamp())
		for _, id := range ids {
			args = append(args, id)
		}
		q := `UPDATE outbox SET published_at = ? WHERE published_at IS NULL AND id IN (?` +
			strings.Repeat(", ?", len(ids)-1) + `)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d events published: %w", len(ids), err)
	}
	return nil
}

// DeletePublished implements catalog.Store. Only rows still unpublished are deleted, as MarkPublished marks
// only those.
func (s *Store) DeletePublished(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *txn) error {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		q := `DELETE FROM outbox WHERE published_at IS NULL AND id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %d published events: %w", len(ids), dbErr(err))
	}
	return nil
}

// LastPublished implements catalog.Store.
func (s *Store) LastPublished(ctx context.Context) (time.Time, error) {
	var at nullTime
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(published_at) FROM outbox`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("read the last publication: %w", dbErr(err))
	}
	if p := at.ptr(); p != nil {
		return *p, nil
	}
	return time.Time{}, nil
}

// UnmarkPublished implements catalog.Store. Of the events published since since, it unmarks only each movie's
// last one: the stream keeps a movie's last message, and one of the superseded events published again after
// a restart of the stream's server, which forgets the ids of the messages it no longer holds, would become
// it. A movie's later event is published after the earlier ones, so it is published since since or pending.
func (s *Store) UnmarkPublished(ctx context.Context, since time.Time) (int64, error) {
	var unmarked int64
	err := s.inTx(ctx, func(tx *txn) error {
		unmarked = 0
		const q = `SELECT MAX(id) FROM outbox WHERE published_at >= ? OR published_at IS NULL GROUP BY movie_id`
		rows, err := tx.QueryContext(ctx, q, since.UTC())
		if err != nil {
			return err
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for chunk := range slices.Chunk(ids, 500) {
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL AND id IN (?`+
				strings.Repeat(", ?", len(chunk)-1)+`)`, chunk...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			unmarked += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("unmark events published since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return unmarked, nil
}

// Backlog implements catalog.Store.
func (s *Store) Backlog(ctx context.Context) (int64, error) {
	var n int64
	const q = `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending events: %w", dbErr(err))
	}
	return n, nil
}

// PrunePublished deletes up to limit outbox rows published before before, oldest first, and returns how
// many it deleted. The ids are read first and deleted by id, which both engines run the same way.
func (s *Store) PrunePublished(ctx context.Context, before time.Time, limit int) (int, error) {
	const q = `SELECT id FROM outbox WHERE published_at IS NOT NULL AND published_at < ? ORDER BY published_at, id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, before.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("find expired outbox rows: %w", dbErr(err))
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("find expired outbox rows: %w", dbErr(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("find expired outbox rows: %w", dbErr(err))
	}
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return 0, fmt.Errorf("delete expired outbox rows: %w", dbErr(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
