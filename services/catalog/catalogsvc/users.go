package catalogsvc

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/password"
)

// Users manages accounts directly on the catalog database, without the service running: the logic of the
// `marquee user add|list|remove` command. It applies the same rules as the API (POST/GET/DELETE /v1/users).
type Users struct {
	store  catalog.UserStore
	hasher *password.Hasher
}

// UserInfo is an account as shown to people: never its password hash.
type UserInfo struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// OpenUsers migrates the database (so that it works on a new one) and returns its account manager. The
// caller keeps and closes db.
func OpenUsers(ctx context.Context, db *sql.DB, dialect string) (*Users, error) {
	d, err := catalogsql.DialectOf(dialect)
	if err != nil {
		return nil, err
	}
	if err := catalogsql.Migrate(ctx, db, d); err != nil {
		return nil, fmt.Errorf("migrate catalog database: %w", err)
	}
	return &Users{store: catalogsql.New(db, d), hasher: password.NewHasher(1)}, nil
}

// Add creates a user. The username is trimmed and lower-cased; the password needs at least
// catalog.MinPasswordLen characters; role is "admin" or "user". Returns an Invalid error naming the bad
// fields, or Conflict if the username is taken.
func (u *Users) Add(ctx context.Context, username, pw, role string) (UserInfo, error) {
	if err := catalog.ValidateNewUser(&username, pw, role); err != nil {
		return UserInfo{}, err
	}
	hash, err := u.hasher.Hash(ctx, pw)
	if err != nil {
		return UserInfo{}, err
	}
	created, err := u.store.CreateUser(ctx, catalog.User{Username: username, Role: role, PasswordHash: hash})
	if err != nil {
		return UserInfo{}, err
	}
	return UserInfo{Username: created.Username, Role: created.Role, CreatedAt: created.CreatedAt.UTC()}, nil
}

// List returns every user in username order.
func (u *Users) List(ctx context.Context) ([]UserInfo, error) {
	us, err := u.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]UserInfo, 0, len(us))
	for _, x := range us {
		out = append(out, UserInfo{Username: x.Username, Role: x.Role, CreatedAt: x.CreatedAt.UTC()})
	}
	return out, nil
}

// Remove deletes a user. Returns NotFound if there is none, Conflict if it is the last admin.
func (u *Users) Remove(ctx context.Context, username string) error {
	return u.store.DeleteUser(ctx, username)
}
