package catalogsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// errKeyTaken means the idempotency key's row exists: the transaction rolls back and the row is read.
var errKeyTaken = errors.New("idempotency key taken")

// errKeyGone means the row that took the key went away (rolled back, expired or abandoned): try again.
var errKeyGone = errors.New("idempotency key gone")

var errInProgress = apperr.Errorf(apperr.Conflict, "A request with this Idempotency-Key is still in progress; retry later.")

// CreateMovieOnce implements catalog.Store. The key's row is inserted first: a concurrent request with the
// same key waits on its unique index until this transaction ends, then finds the row and replays it.
func (s *Store) CreateMovieOnce(ctx context.Context, actor string, in catalog.MovieInput, onSame catalog.OnSameFilm, key catalog.IdempotencyKey,
	respond func(*catalog.Movie) (catalog.SavedResponse, error)) (catalog.SavedResponse, bool, error) {
	for range 3 {
		var resp catalog.SavedResponse
		err := s.inTx(ctx, func(tx *txn) error {
			if err := s.insertKey(ctx, tx, key); err != nil {
				return err
			}
			m, err := s.createMovie(ctx, tx, actor, in, onSame)
			if err != nil {
				return err
			}
			if resp, err = respond(m); err != nil {
				return err
			}
			return s.saveResponse(ctx, tx, key, resp)
		})
		if err == nil {
			return resp, false, nil
		}
		if !errors.Is(err, errKeyTaken) {
			return catalog.SavedResponse{}, false, fmt.Errorf("create movie: %w", dbErr(err))
		}
		saved, err := s.savedResponse(ctx, key)
		if errors.Is(err, errKeyGone) {
			continue
		}
		if err != nil {
			return catalog.SavedResponse{}, false, err
		}
		return *saved, true, nil
	}
	return catalog.SavedResponse{}, false, errInProgress
}

// ClaimIdempotencyKey implements catalog.Store.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, key catalog.IdempotencyKey) (*catalog.SavedResponse, error) {
	for range 3 {
		err := s.inTx(ctx, func(tx *txn) error { return s.insertKey(ctx, tx, key) })
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, errKeyTaken) {
			return nil, fmt.Errorf("claim idempotency key: %w", dbErr(err))
		}
		saved, err := s.savedResponse(ctx, key)
		if errors.Is(err, errKeyGone) {
			continue
		}
		return saved, err
	}
	return nil, errInProgress
}

// insertKey inserts the key's row, marked in flight.
func (s *Store) insertKey(ctx context.Context, tx *txn, key catalog.IdempotencyKey) error {
	now := s.timestamp()
	const q = `INSERT INTO idempotency_keys (principal, idem_key, request_hash, status, created_at, expires_at)
	VALUES (?, ?, ?, 0, ?, ?)`
	_, err := tx.ExecContext(ctx, q, key.Principal, key.Key, key.RequestHash, now, now.Add(catalog.IdempotencyTTL))
	var me *mysql.MySQLError
	switch {
	case duplicateKey(err):
		return errKeyTaken
	case errors.As(err, &me) && me.Number == 1205: // lock wait timeout: the first request runs on and on
		return errInProgress
	case err != nil:
		return fmt.Errorf("insert idempotency key: %w", dbErr(err))
	}
	return nil
}

func (s *Store) saveResponse(ctx context.Context, tx *txn, key catalog.IdempotencyKey, resp catalog.SavedResponse) error {
	const q = `UPDATE idempotency_keys SET status = ?, location = ?, etag = ?, body = ?
	WHERE principal = ? AND idem_key = ? AND request_hash = ? AND status = 0`
	res, err := tx.ExecContext(ctx, q, resp.Status, resp.Location, resp.ETag, resp.Body, key.Principal, key.Key, key.RequestHash)
	if err != nil {
		return fmt.Errorf("save idempotent response: %w", dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("save idempotent response: key not claimed (%d rows, %v)", n, err)
	}
	return nil
}

// savedResponse reads the key's row after insertKey found it taken: the answer to replay, or why not.
func (s *Store) savedResponse(ctx context.Context, key catalog.IdempotencyKey) (*catalog.SavedResponse, error) {
	var (
		hash                 string
		resp                 catalog.SavedResponse
		createdAt, expiresAt timeValue
	)
	const q = `SELECT request_hash, status, location, etag, body, created_at, expires_at FROM idempotency_keys
	WHERE principal = ? AND idem_key = ?`
	err := s.db.QueryRowContext(ctx, q, key.Principal, key.Key).Scan(&hash, &resp.Status, &resp.Location, &resp.ETag,
		&resp.Body, &createdAt, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errKeyGone
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", dbErr(err))
	}
	now := s.timestamp()
	expired := !timeOf(expiresAt).After(now)
	abandoned := resp.Status == 0 && timeOf(createdAt).Add(catalog.InFlightTimeout).Before(now)
	if expired || abandoned {
		const qd = `DELETE FROM idempotency_keys WHERE principal = ? AND idem_key = ? AND created_at = ?`
		if _, err := s.db.ExecContext(ctx, qd, key.Principal, key.Key, timeOf(createdAt)); err != nil {
			return nil, fmt.Errorf("delete expired idempotency key: %w", dbErr(err))
		}
		return nil, errKeyGone
	}
	switch {
	case hash != key.RequestHash:
		return nil, apperr.Errorf(apperr.Unprocessable, "This Idempotency-Key was already used for another request.")
	case resp.Status == 0:
		return nil, errInProgress
	}
	return &resp, nil
}

// CompleteIdempotencyKey implements catalog.Store.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, key catalog.IdempotencyKey, resp catalog.SavedResponse) error {
	err := s.inTx(ctx, func(tx *txn) error { return s.saveResponse(ctx, tx, key, resp) })
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", dbErr(err))
	}
	return nil
}

// ReleaseIdempotencyKey implements catalog.Store.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key catalog.IdempotencyKey) error {
	const q = `DELETE FROM idempotency_keys WHERE principal = ? AND idem_key = ? AND request_hash = ? AND status = 0`
	if _, err := s.db.ExecContext(ctx, q, key.Principal, key.Key, key.RequestHash); err != nil {
		return fmt.Errorf("release idempotency key: %w", dbErr(err))
	}
	return nil
}

// PruneIdempotencyKeys implements catalog.Store.
func (s *Store) PruneIdempotencyKeys(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at < ?`, s.timestamp())
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", dbErr(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}
