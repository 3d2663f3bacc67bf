package catalogsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// CreateRefreshToken implements catalog.Store.
func (s *Store) CreateRefreshToken(ctx context.Context, t catalog.RefreshToken) error {
	const q = `INSERT INTO refresh_tokens (token_hash, family, username, role, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`
	_, err := s.db.ExecContext(ctx, q, t.Hash, t.Family, t.Username, t.Role, utc(t.StartedAt), utc(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create refresh token: %w", dbErr(err))
	}
	return nil
}

var errNoRefreshToken = apperr.Errorf(apperr.NotFound, "No such live refresh token.")

// RotateRefreshToken implements catalog.Store. The old token's row is read with a lock, so that of two
// refreshes with one token one rotates it and the other finds it used.
func (s *Store) RotateRefreshToken(ctx context.Context, old []byte, next catalog.RefreshToken, now time.Time) (*catalog.RefreshToken, error) {
	var reused bool
	err := s.inTx(ctx, func(tx *txn) error {
		reused = false
		var (
			t                 catalog.RefreshToken
			started, expires  timeValue
			usedAt, revokedAt nullTime
		)
		q := `SELECT family, username, role, started_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?` + s.d.forUpdate
		switch err := tx.QueryRowContext(ctx, q, old).Scan(&t.Family, &t.Username, &t.Role, &started, &expires, &usedAt, &revokedAt); {
		case errors.Is(err, sql.ErrNoRows):
			return errNoRefreshToken
		case err != nil:
			return err
		}
		switch {
		case revokedAt.valid || !timeOf(expires).After(now):
			return errNoRefreshToken
		case usedAt.valid:
			reused = true
			return revokeFamily(ctx, tx, t.Family, now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?`, utc(now), old); err != nil {
			return err
		}
		t.Hash, t.StartedAt, t.ExpiresAt = next.Hash, timeOf(started), next.ExpiresAt
		const ins = `INSERT INTO refresh_tokens (token_hash, family, username, role, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, ins, t.Hash, t.Family, t.Username, t.Role, utc(t.StartedAt), utc(t.ExpiresAt)); err != nil {
			return err
		}
		next = t
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", dbErr(err))
	case reused:
		return nil, apperr.Errorf(apperr.Conflict, "The refresh token was used before; its session is revoked.")
	}
	return &next, nil
}

// RevokeRefreshFamily implements catalog.Store.
func (s *Store) RevokeRefreshFamily(ctx context.Context, hash []byte) error {
	err := s.inTx(ctx, func(tx *txn) error {
		var family string
		switch err := tx.QueryRowContext(ctx, `SELECT family FROM refresh_tokens WHERE token_hash = ?`, hash).Scan(&family); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		return revokeFamily(ctx, tx, family, s.timestamp())
	})
	if err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", dbErr(err))
	}
	return nil
}

func revokeFamily(ctx context.Context, tx *txn, family string, now time.Time) error {
	const q = `UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`
	_, err := tx.ExecContext(ctx, q, utc(now), family)
	return err
}

// PruneRefreshTokens implements catalog.Store.
func (s *Store) PruneRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at < ?`, utc(now))
	if err != nil {
		return 0, fmt.Errorf("prune refresh tokens: %w", dbErr(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// utc is how times are written: UTC, to the microsecond that DATETIME(6) keeps.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
