package catalogsql

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// UpsertUser implements catalog.Store.
func (s *Store) UpsertUser(ctx context.Context, u catalog.User) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.timestamp()
		_, err := tx.ExecContext(ctx, s.d.upsert, u.Username, u.PasswordHash, u.Role, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("upsert user %q: %w", u.Username, err)
	}
	return nil
}

// UserByName implements catalog.Store.
func (s *Store) UserByName(ctx context.Context, username string) (*catalog.User, error) {
	var (
		u  catalog.User
		at timeValue
	)
	const q = `SELECT username, password_hash, role, created_at FROM users WHERE username = ?`
	err := s.db.QueryRowContext(ctx, q, username).Scan(&u.Username, &u.PasswordHash, &u.Role, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "User %q not found.", username)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", username, err)
	}
	u.CreatedAt = timeOf(at)
	return &u, nil
}

// CountAdmins implements catalog.Store.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	const q = `SELECT COUNT(*) FROM users WHERE role = ?`
	if err := s.db.QueryRowContext(ctx, q, catalog.RoleAdmin).Scan(&n); err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// SigningKeys implements catalog.Store.
func (s *Store) SigningKeys(ctx context.Context) ([]catalog.SigningKey, error) {
	const q = `SELECT kid, private_key, created_at FROM signing_keys ORDER BY created_at, kid`
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []catalog.SigningKey
	for rows.Next() {
		var (
			k   catalog.SigningKey
			raw []byte
			at  timeValue
		)
		if err := rows.Scan(&k.Kid, &raw, &at); err != nil {
			return nil, fmt.Errorf("read signing keys: %w", err)
		}
		if len(raw) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("signing key %q has %d bytes, want %d", k.Kid, len(raw), ed25519.PrivateKeySize)
		}
		k.Private, k.CreatedAt = ed25519.PrivateKey(raw), timeOf(at)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	return out, nil
}

// AddSigningKey implements catalog.Store.
func (s *Store) AddSigningKey(ctx context.Context, k catalog.SigningKey) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO signing_keys (kid, private_key, created_at) VALUES (?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, k.Kid, []byte(k.Private), s.timestamp())
		if duplicateKey(err) {
			return apperr.Errorf(apperr.Conflict, "Signing key %q exists.", k.Kid)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("add signing key %q: %w", k.Kid, err)
	}
	return nil
}
