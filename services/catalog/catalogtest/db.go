// Package catalogtest is the contract suite every catalog.Store must pass, and helpers that open real
// databases for tests: SQLite in a temporary folder always, MariaDB/MySQL when MARQUEE_TEST_MYSQL_DSN is set.
package catalogtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"

	"marquee/pkg/testenv"
	"marquee/services/catalog/catalogsql"
)

// MustOpenSQLite opens a new, empty SQLite database in a temporary folder, closed when the test ends.
func MustOpenSQLite(tb testing.TB) *sql.DB {
	tb.Helper()
	return MustOpenSQLiteAt(tb, filepath.Join(tb.TempDir(), "catalog.db"))
}

// MustOpenSQLiteAt opens the SQLite database at path, closed when the test ends.
func MustOpenSQLiteAt(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := catalogsql.Open(context.Background(), catalogsql.SQLite, path, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// MustOpenMySQL opens a fresh database (see MustMySQLDSN), closed when the test ends.
func MustOpenMySQL(tb testing.TB) *sql.DB {
	tb.Helper()
	dsn := MustMySQLDSN(tb)
	db, err := catalogsql.Open(context.Background(), catalogsql.MySQL, dsn, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() }) // runs before the drop: cleanups run last-in first-out
	return db
}

// MustMySQLDSN creates a fresh database on the server of MARQUEE_TEST_MYSQL_DSN, dropped when the test
// ends so that runs never share state, and returns its DSN. It skips the test, loudly, when the variable
// is unset.
func MustMySQLDSN(tb testing.TB) string {
	tb.Helper()
	dsn := testenv.MySQLDSN(tb)
	ctx := context.Background()
	admin, err := catalogsql.Open(ctx, catalogsql.MySQL, dsn, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "marquee_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// MustOpen opens a fresh database of the dialect (see MustOpenSQLite and MustOpenMySQL).
func MustOpen(tb testing.TB, dialect string) *sql.DB {
	tb.Helper()
	if dialect == catalogsql.MySQL {
		return MustOpenMySQL(tb)
	}
	return MustOpenSQLite(tb)
}

// MustStore returns a store over db, migrated.
func MustStore(tb testing.TB, db *sql.DB, dialect string) *catalogsql.Store {
	tb.Helper()
	d, err := catalogsql.DialectOf(dialect)
	if err != nil {
		tb.Fatal(err)
	}
	if err := catalogsql.Migrate(context.Background(), db, d); err != nil {
		tb.Fatal(err)
	}
	return catalogsql.New(db, d)
}
