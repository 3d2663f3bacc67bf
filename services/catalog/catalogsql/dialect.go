// Package catalogsql is the catalog Store over database/sql, one implementation for both MySQL/MariaDB (the
// split-mode source of truth) and SQLite (the all-in-one and the default tests). The few statements that
// differ live in a Dialect; migrations are embedded per dialect.
package catalogsql

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"marquee/pkg/apperr"
)

// Dialect names.
const (
	MySQL  = "mysql"
	SQLite = "sqlite"
)

// Dialect is what differs between the SQL engines.
type Dialect struct {
	Name      string // MySQL or SQLite; also the database/sql driver name and the migrations folder
	upsert    string // UpsertUser's statement
	forUpdate string // the suffix of a locking read
	claimFilm string // takes (creating if need be) the lock of a film_claims row
}

// DialectOf returns the dialect called name ("mysql" or "sqlite").
func DialectOf(name string) (Dialect, error) {
	switch name {
	case MySQL:
		return Dialect{
			Name: MySQL,
			upsert: `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash), role = VALUES(role), updated_at = VALUES(updated_at)`,
			forUpdate: ` FOR UPDATE`,
			// On a duplicate key InnoDB locks the existing row exclusively, a new one is locked as inserted.
			claimFilm: `INSERT INTO film_claims (key_hash) VALUES (?) ON DUPLICATE KEY UPDATE key_hash = key_hash`,
		}, nil
	case SQLite:
		return Dialect{
			Name: SQLite,
			upsert: `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, updated_at = excluded.updated_at`,
			claimFilm: `INSERT INTO film_claims (key_hash) VALUES (?) ON CONFLICT (key_hash) DO NOTHING`,
		}, nil
	default:
		return Dialect{}, fmt.Errorf("unknown SQL dialect %q (want %q or %q)", name, MySQL, SQLite)
	}
}

// retryable reports whether a transaction failed only because it lost a race and may simply run again:
// an InnoDB deadlock (1213) or, should busy_timeout run out, a busy SQLite database.
func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}

// dbErr turns an error that means the database cannot be reached, or cannot serve this request now, into
// an apperr.Unavailable error (503 with Retry-After) that keeps err as its cause; any other error is
// returned as it is. Connection-level failures are a state of the deployment, not a bug: the client may
// retry, and the catalog must never answer 500 for them.
func dbErr(err error) error {
	if err == nil || apperr.CodeOf(err) != apperr.Internal || !unreachable(err) {
		return err
	}
	return apperr.Wrap(err, apperr.Unavailable, "The catalog database is unavailable; try again shortly.")
}

// unreachable reports whether err is a connection-level failure of the database: a bad or lost connection,
// a refused or timed-out dial, a lock wait timeout (1205), a server gone away (2006, 2013), shutting down
// (1053), out of connections (1040) or a killed connection (1927).
func unreachable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1205, 1927, 2006, 2013:
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true // a dial or read that failed or timed out
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}

// duplicateKey reports whether err is a primary or unique key violation.
func duplicateKey(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}
