package catalogsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lock is a MySQL named lock (GET_LOCK) held on a connection of its own: the server releases it when that
// session ends, so a process killed -9 gives it up as soon as its connection closes.
type Lock struct {
	conn *sql.Conn
	name string
}

// lockPoll is how long one GET_LOCK waits before the context is looked at again.
const lockPoll = 5 * time.Second

// TakeLock takes the named lock, waiting as long as another session holds it (calling waiting once, when
// the first attempt finds it held) or until ctx is done. The lock takes one of db's connections while held.
func TakeLock(ctx context.Context, db *sql.DB, name string, waiting func()) (*Lock, error) {
	if len(name) > 64 {
		return nil, fmt.Errorf("lock name %q: longer than MySQL's 64 characters", name)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, dbErr(err))
	}
	for first := true; ; first = false {
		wait := lockPoll // the first attempt does not wait, so that a wait is reported at once
		if first {
			wait = 0
		}
		var got sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, int(wait/time.Second)).Scan(&got)
		switch {
		case err != nil:
			_ = conn.Close()
			return nil, fmt.Errorf("lock %s: %w", name, dbErr(err))
		case got.Valid && got.Int64 == 1:
			return &Lock{conn: conn, name: name}, nil
		case !got.Valid:
			_ = conn.Close()
			return nil, fmt.Errorf("lock %s: GET_LOCK failed", name)
		}
		if first && waiting != nil {
			waiting()
		}
		if ctx.Err() != nil {
			_ = conn.Close()
			return nil, ctx.Err()
		}
	}
}

// Held reports whether this session still holds the lock: false once its connection was lost (the server
// then released it).
func (l *Lock) Held(ctx context.Context) (bool, error) {
	var owner, self sql.NullInt64
	err := l.conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?), CONNECTION_ID()", l.name).Scan(&owner, &self)
	if err != nil {
		return false, dbErr(err)
	}
	return owner.Valid && owner.Int64 == self.Int64, nil
}

// Release gives the lock up and returns its connection to the pool. A connection that no longer answers
// is given 5 s: its session's end releases the lock anyway.
func (l *Lock) Release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", l.name)
	return errors.Join(dbErr(err), l.conn.Close())
}
