package catalogsql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"marquee/services/catalog"
)

// PendingEvents implements catalog.Store. It scans the unpublished set rather than keeping a cursor: ids are
// assigned at insert, not at commit, so a lower id can become visible after a higher one.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]catalog.OutboxEvent, error) {
	const q = `SELECT id, event_id, movie_id, version, subject, payload, created_at FROM outbox
	WHERE published_at IS NULL ORDER BY id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("read pending events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []catalog.OutboxEvent
	for rows.Next() {
		var (
			e  catalog.OutboxEvent
			at timeValue
		)
		if err := rows.Scan(&e.ID, &e.EventID, &e.MovieID, &e.Version, &e.Subject, &e.Payload, &at); err != nil {
			return nil, fmt.Errorf("read pending events: %w", err)
		}
		e.CreatedAt = timeOf(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending events: %w", err)
	}
	return out, nil
}

// MarkPublished implements catalog.Store.
func (s *Store) MarkPublished(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
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

// Backlog implements catalog.Store.
func (s *Store) Backlog(ctx context.Context) (int64, error) {
	var n int64
	const q = `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending events: %w", err)
	}
	return n, nil
}
