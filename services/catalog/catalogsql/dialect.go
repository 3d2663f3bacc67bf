// Package catalogsql is the catalog Store over database/sql, one implementation for both MySQL/MariaDB (the
// split-mode source of truth) and SQLite (the all-in-one and the default tests). The few statements that
// differ live in a Dialect; migrations are embedded per dialect.
package catalogsql

import (
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
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
		}, nil
	case SQLite:
		return Dialect{
			Name: SQLite,
			upsert: `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, updated_at = excluded.updated_at`,
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
