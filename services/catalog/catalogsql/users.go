package catalogsql

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// UpsertUser implements catalog.Store.
func (s *Store) UpsertUser(ctx context.Context, u catalog.User) error {
	err := s.inTx(ctx, func(tx *txn) error {
		now := s.timestamp()
		if _, err := tx.ExecContext(ctx, s.d.upsert, u.Username, u.PasswordHash, u.Role, now, now); err != nil {
			return err
		}
		if err := ensurePrincipal(ctx, tx, u.Username, now); err != nil {
			return err
		}
		return revokeAPIKeysOf(ctx, tx, u.Username, now) // a new password or role revokes the old keys
	})
	if err != nil {
		return fmt.Errorf("upsert user %q: %w", u.Username, dbErr(err))
	}
	return nil
}

// UserByName implements catalog.Store.
func (s *Store) UserByName(ctx context.Context, username string) (*catalog.User, error) {
	var (
		u       catalog.User
		at, upd timeValue
	)
	const q = `SELECT COALESCE(principal_id, 0), username, password_hash, role, created_at, updated_at FROM users WHERE username = ?`
	err := s.db.QueryRowContext(ctx, q, username).Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &at, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "User %q not found.", username)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", username, dbErr(err))
	}
	u.CreatedAt, u.UpdatedAt = timeOf(at), timeOf(upd)
	return &u, nil
}

// CountAdmins implements catalog.Store.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	const q = `SELECT COUNT(*) FROM users WHERE role = ?`
	if err := s.db.QueryRowContext(ctx, q, catalog.RoleAdmin).Scan(&n); err != nil {
		return 0, fmt.Errorf("count admins: %w", dbErr(err))
	}
	return n, nil
}

// SigningKeys implements catalog.Store.
func (s *Store) SigningKeys(ctx context.Context) ([]catalog.SigningKey, error) {
	const q = `SELECT kid, private_key, created_at FROM signing_keys ORDER BY created_at, kid`
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", dbErr(err))
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
			return nil, fmt.Errorf("read signing keys: %w", dbErr(err))
		}
		if len(raw) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("signing key %q has %d bytes, want %d", k.Kid, len(raw), ed25519.PrivateKeySize)
		}
		k.Private, k.CreatedAt = ed25519.PrivateKey(raw), timeOf(at)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read signing keys: %w", dbErr(err))
	}
	return out, nil
}

// AddSigningKey implements catalog.Store.
func (s *Store) AddSigningKey(ctx context.Context, k catalog.SigningKey) error {
	err := s.inTx(ctx, func(tx *txn) error {
		const q = `INSERT INTO signing_keys (kid, private_key, created_at) VALUES (?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, k.Kid, []byte(k.Private), s.timestamp())
		if duplicateKey(err) {
			return apperr.Errorf(apperr.Conflict, "Signing key %q exists.", k.Kid)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("add signing key %q: %w", k.Kid, dbErr(err))
	}
	return nil
}

// CreateUser implements catalog.Store.
func (s *Store) CreateUser(ctx context.Context, u catalog.User) (*catalog.User, error) {
	now := s.timestamp()
	err := s.inTx(ctx, func(tx *txn) error {
		const q = `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, u.Username, u.PasswordHash, u.Role, now, now)
		if duplicateKey(err) {
			return apperr.Errorf(apperr.Conflict, "User %q exists.", u.Username)
		}
		if err != nil {
			return err
		}
		if err := ensurePrincipal(ctx, tx, u.Username, now); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT principal_id FROM users WHERE username = ?`, u.Username).Scan(&u.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", u.Username, dbErr(err))
	}
	u.CreatedAt, u.UpdatedAt = now, now
	return &u, nil
}

// Users implements catalog.Store.
func (s *Store) Users(ctx context.Context) ([]catalog.User, error) {
	const q = `SELECT COALESCE(principal_id, 0), username, password_hash, role, created_at FROM users ORDER BY username`
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	out := []catalog.User{}
	for rows.Next() {
		var (
			u  catalog.User
			at timeValue
		)
		if err := rows.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &at); err != nil {
			return nil, fmt.Errorf("list users: %w", dbErr(err))
		}
		u.CreatedAt = timeOf(at)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", dbErr(err))
	}
	return out, nil
}

// DeleteUser implements catalog.Store. The admins are counted with a locking read, so that two
// concurrent deletes cannot remove the last two admins.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	err := s.inTx(ctx, func(tx *txn) error {
		var role string
		q := `SELECT role FROM users WHERE username = ?` + s.d.forUpdate
		switch err := tx.QueryRowContext(ctx, q, username).Scan(&role); {
		case errors.Is(err, sql.ErrNoRows):
			return apperr.Errorf(apperr.NotFound, "User %q not found.", username)
		case err != nil:
			return err
		}
		if role == catalog.RoleAdmin {
			var n int
			qc := `SELECT COUNT(*) FROM users WHERE role = ?` + s.d.forUpdate
			if err := tx.QueryRowContext(ctx, qc, catalog.RoleAdmin).Scan(&n); err != nil {
				return err
			}
			if n <= 1 {
				return apperr.Errorf(apperr.Conflict, "User %q is the last admin and cannot be deleted.", username)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username); err != nil {
			return err
		}
		return revokeAPIKeysOf(ctx, tx, username, s.timestamp())
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, dbErr(err))
	}
	return nil
}

// ensurePrincipal gives username's account a new principal id if it has none yet (a new account).
func ensurePrincipal(ctx context.Context, tx *txn, username string, now time.Time) error {
	var id sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT principal_id FROM users WHERE username = ?`, username).Scan(&id); err != nil {
		return err
	}
	if id.Valid {
		return nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO principals (username, created_at) VALUES (?, ?)`, username, now)
	if err != nil {
		return err
	}
	n, err := res.LastInsertId()
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE users SET principal_id = ? WHERE username = ?`, n, username)
	return err
}

// revokeAPIKeysOf revokes the live API keys that username created before now.
func revokeAPIKeysOf(ctx context.Context, tx *txn, username string, now time.Time) error {
	const q = `UPDATE api_keys SET revoked_at = ? WHERE created_by = ? AND revoked_at IS NULL AND created_at < ?`
	_, err := tx.ExecContext(ctx, q, now, username, now)
	return err
}

const apiKeyColumns = `id, name, role, key_hash, created_by, created_at, last_used_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*catalog.APIKey, error) {
	var (
		k                 catalog.APIKey
		created           timeValue
		lastUsed, revoked nullTime
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &k.CreatedBy, &created, &lastUsed, &revoked); err != nil {
		return nil, err
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = timeOf(created), lastUsed.ptr(), revoked.ptr()
	return &k, nil
}

// CreateAPIKey implements catalog.Store.
func (s *Store) CreateAPIKey(ctx context.Context, k catalog.APIKey) (*catalog.APIKey, error) {
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = s.timestamp(), nil, nil
	err := s.inTx(ctx, func(tx *txn) error {
		const q = `INSERT INTO api_keys (name, role, key_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)`
		res, err := tx.ExecContext(ctx, q, k.Name, k.Role, k.Hash, k.CreatedBy, k.CreatedAt)
		if err != nil {
			return err
		}
		k.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create api key: %w", dbErr(err))
	}
	return &k, nil
}

// APIKeys implements catalog.Store.
func (s *Store) APIKeys(ctx context.Context) ([]catalog.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", dbErr(err))
	}
	defer func() { _ = rows.Close() }()
	out := []catalog.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", dbErr(err))
		}
		out = append(out, *k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", dbErr(err))
	}
	return out, nil
}

// APIKeyByHash implements catalog.Store.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*catalog.APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE key_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "No such API key.")
	}
	if err != nil {
		return nil, fmt.Errorf("get api key: %w", dbErr(err))
	}
	return k, nil
}

// APIKeyByID implements catalog.Store.
func (s *Store) APIKeyByID(ctx context.Context, id int64) (*catalog.APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "API key %d not found.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get api key %d: %w", id, dbErr(err))
	}
	return k, nil
}

// TouchAPIKey implements catalog.Store.
func (s *Store) TouchAPIKey(ctx context.Context, id int64, at time.Time) error {
	const q = `UPDATE api_keys SET last_used_at = ? WHERE id = ?`
	if _, err := s.db.ExecContext(ctx, q, at.UTC().Truncate(time.Microsecond), id); err != nil {
		return fmt.Errorf("touch api key %d: %w", id, dbErr(err))
	}
	return nil
}

// RevokeAPIKey implements catalog.Store.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.timestamp(), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE id = ?`, id).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return apperr.Errorf(apperr.NotFound, "API key %d not found.", id)
		default:
			return err
		}
	})
	if err != nil {
		return fmt.Errorf("revoke api key %d: %w", id, dbErr(err))
	}
	return nil
}
